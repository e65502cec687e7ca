import CRDT
import CompressNIO
import Foundation
import NIOCore
import Store

/// The compact wire form of a page of ledger operations, as peers exchange them.
///
/// Version 1, before deflate compression:
/// ```
/// u8       format version (1)
/// varint   string-table size, then each string: varint length + UTF-8
/// varint   operation count, then per operation:
///   varint origin (string index)     varint sequence delta from the previous operation of the same origin
///   zigzag   timestamp delta from the previous operation
///   u8 kind (index in OperationKind.allCases)   varint sku (string index)   u8 flags
///   [16 bytes movement UUID | varint string index]    (flags: has id, id is a UUID)
///   [varint warehouse]  zigzag delta  [varint increments, varint decrements]
///   [transfer: 16-byte id or string index, from, to, varint shipped+1, varint accepted+1]
///   [varint length + JSON product patch, varint length + JSON causal context (0: none)]   varint actor   [varint reason]   [varint reference]
/// ```
/// Strings that repeat (SKUs, warehouses, users, reasons) are sent once per page. A reader refuses any other
/// version, a truncated page, an index outside the table, or a page that inflates beyond its limit.
public enum OperationPage {
    public static let version: UInt8 = 1
    /// The most bytes a page may inflate to (bounded memory on the receiving side).
    public static let maxInflatedBytes = 64 << 20

    public enum Failure: Error, CustomStringConvertible {
        case unsupportedVersion(UInt8)
        case malformed(String)

        public var description: String {
            switch self {
            case .unsupportedVersion(let version): "unsupported operation page version \(version)"
            case .malformed(let why): "malformed operation page: \(why)"
            }
        }
    }

    private struct Flags: OptionSet {
        let rawValue: UInt8
        static let movementID = Flags(rawValue: 1 << 0)
        static let movementIDIsUUID = Flags(rawValue: 1 << 1)
        static let warehouse = Flags(rawValue: 1 << 2)
        static let counter = Flags(rawValue: 1 << 3)
        static let transfer = Flags(rawValue: 1 << 4)
        static let product = Flags(rawValue: 1 << 5)
        static let reason = Flags(rawValue: 1 << 6)
        static let reference = Flags(rawValue: 1 << 7)
    }

    private static let kinds = OperationKind.allCases

    /// Encodes and compresses operations.
    public static func encode(_ operations: [LedgerOperation]) throws -> ByteBuffer {
        var strings: [String] = []
        var index: [String: Int] = [:]
        func intern(_ text: String) -> Int {
            if let existing = index[text] { return existing }
            index[text] = strings.count
            strings.append(text)
            return strings.count - 1
        }
        var body = ByteBuffer()
        body.reserveCapacity(operations.count * 48)
        body.writeVarint(UInt64(operations.count))
        var lastSequence: [ReplicaID: UInt64] = [:]
        var lastTimestamp: UInt64 = 0
        let encoder = JSONEncoder()
        for op in operations {
            body.writeVarint(UInt64(intern(op.origin.rawValue)))
            body.writeZigzag(Int64(bitPattern: op.sequence &- (lastSequence[op.origin] ?? 0)))
            lastSequence[op.origin] = op.sequence
            body.writeZigzag(Int64(bitPattern: op.timestamp.rawValue &- lastTimestamp))
            lastTimestamp = op.timestamp.rawValue
            body.writeInteger(UInt8(kinds.firstIndex(of: op.kind) ?? 0))
            body.writeVarint(UInt64(intern(op.sku.rawValue)))
            var flags: Flags = []
            let movementUUID = op.movementID.flatMap(UUID.init(uuidString:))
            if op.movementID != nil { flags.insert(.movementID) }
            if movementUUID != nil && op.movementID == movementUUID?.uuidString.lowercased() { flags.insert(.movementIDIsUUID) }
            if op.warehouse != nil { flags.insert(.warehouse) }
            if op.counter != nil { flags.insert(.counter) }
            if op.transfer != nil { flags.insert(.transfer) }
            if op.product != nil { flags.insert(.product) }
            if op.reason != nil { flags.insert(.reason) }
            if op.reference != nil { flags.insert(.reference) }
            body.writeInteger(flags.rawValue)
            if let id = op.movementID {
                if flags.contains(.movementIDIsUUID), let uuid = movementUUID { body.writeUUID(uuid) } else { body.writeVarint(UInt64(intern(id))) }
            }
            if let warehouse = op.warehouse { body.writeVarint(UInt64(intern(warehouse.rawValue))) }
            body.writeZigzag(op.delta)
            if let counter = op.counter {
                body.writeVarint(counter.increments)
                body.writeVarint(counter.decrements)
            }
            if let transfer = op.transfer {
                if let uuid = UUID(uuidString: transfer.id), uuid.uuidString.lowercased() == transfer.id {
                    body.writeInteger(UInt8(1))
                    body.writeUUID(uuid)
                } else {
                    body.writeInteger(UInt8(0))
                    body.writeVarint(UInt64(intern(transfer.id)))
                }
                body.writeVarint(UInt64(intern(transfer.from.rawValue)))
                body.writeVarint(UInt64(intern(transfer.to.rawValue)))
                body.writeVarint(transfer.shipped.map { UInt64($0) + 1 } ?? 0)
                body.writeVarint(transfer.accepted.map { UInt64($0) + 1 } ?? 0)
            }
            if let product = op.product {
                let json = try encoder.encode(product)
                body.writeVarint(UInt64(json.count))
                body.writeBytes(json)
                let context = try op.context.map { try encoder.encode($0) } ?? Data()
                body.writeVarint(UInt64(context.count))
                body.writeBytes(context)
            }
            body.writeVarint(UInt64(intern(op.actor)))
            if let reason = op.reason { body.writeVarint(UInt64(intern(reason))) }
            if let reference = op.reference { body.writeVarint(UInt64(intern(reference))) }
        }
        var page = ByteBuffer()
        page.reserveCapacity(body.readableBytes + strings.count * 16 + 16)
        page.writeInteger(version)
        page.writeVarint(UInt64(strings.count))
        for text in strings {
            page.writeVarint(UInt64(text.utf8.count))
            page.writeString(text)
        }
        page.writeBuffer(&body)
        return try page.compress(with: .deflate())
    }

    /// Inflates and decodes a page.
    public static func decode(_ compressed: ByteBuffer) throws -> [LedgerOperation] {
        var input = compressed
        var page: ByteBuffer
        do { page = try input.decompress(with: .deflate(), maxSize: maxInflatedBytes) } catch {
            throw Failure.malformed("cannot inflate: \(error)")
        }
        guard let pageVersion: UInt8 = page.readInteger() else { throw Failure.malformed("empty") }
        guard pageVersion == version else { throw Failure.unsupportedVersion(pageVersion) }
        let stringCount = try page.readCount(limit: page.readableBytes)
        var strings: [String] = []
        strings.reserveCapacity(stringCount)
        for _ in 0..<stringCount {
            let length = try page.readCount(limit: page.readableBytes)
            guard let bytes = page.readBytes(length: length), let text = String(validating: bytes, as: UTF8.self) else {
                throw Failure.malformed("bad string")
            }
            strings.append(text)
        }
        func string(_ buffer: inout ByteBuffer) throws -> String {
            let position = try buffer.readCount(limit: strings.count - 1)
            return strings[position]
        }
        func replica(_ buffer: inout ByteBuffer) throws -> ReplicaID {
            do { return try ReplicaID(try string(&buffer)) } catch { throw Failure.malformed("bad replica id") }
        }
        let count = try page.readCount(limit: page.readableBytes)
        var operations: [LedgerOperation] = []
        operations.reserveCapacity(count)
        var lastSequence: [ReplicaID: UInt64] = [:]
        var lastTimestamp: UInt64 = 0
        let decoder = JSONDecoder()
        for _ in 0..<count {
            let origin = try replica(&page)
            let sequence = (lastSequence[origin] ?? 0) &+ UInt64(bitPattern: try page.readZigzag())
            lastSequence[origin] = sequence
            lastTimestamp = lastTimestamp &+ UInt64(bitPattern: try page.readZigzag())
            guard let kindIndex: UInt8 = page.readInteger(), Int(kindIndex) < kinds.count else { throw Failure.malformed("bad kind") }
            let sku: SKU
            do { sku = try SKU(try string(&page)) } catch { throw Failure.malformed("bad sku") }
            guard let rawFlags: UInt8 = page.readInteger() else { throw Failure.malformed("truncated") }
            let flags = Flags(rawValue: rawFlags)
            var movementID: String?
            if flags.contains(.movementID) {
                movementID = flags.contains(.movementIDIsUUID) ? try page.readUUID().uuidString.lowercased() : try string(&page)
            }
            let warehouse = flags.contains(.warehouse) ? try replica(&page) : nil
            let delta = try page.readZigzag()
            var counter: PNCounter.Entry?
            if flags.contains(.counter) { counter = PNCounter.Entry(increments: try page.readVarint(), decrements: try page.readVarint()) }
            var transfer: TransferDelta?
            if flags.contains(.transfer) {
                guard let idForm: UInt8 = page.readInteger() else { throw Failure.malformed("truncated") }
                let id = idForm == 1 ? try page.readUUID().uuidString.lowercased() : try string(&page)
                let from = try replica(&page)
                let to = try replica(&page)
                let shipped = try page.readVarint()
                let accepted = try page.readVarint()
                transfer = TransferDelta(
                    id: id, from: from, to: to, shipped: shipped == 0 ? nil : Int64(clamping: shipped - 1),
                    accepted: accepted == 0 ? nil : Int64(clamping: accepted - 1))
            }
            var product: ProductPatch?
            var context: VersionVector?
            if flags.contains(.product) {
                let length = try page.readCount(limit: page.readableBytes)
                guard let bytes = page.readBytes(length: length) else { throw Failure.malformed("truncated") }
                do { product = try decoder.decode(ProductPatch.self, from: Data(bytes)) } catch { throw Failure.malformed("bad product patch") }
                let contextLength = try page.readCount(limit: page.readableBytes)
                if contextLength > 0 {
                    guard let contextBytes = page.readBytes(length: contextLength) else { throw Failure.malformed("truncated") }
                    do { context = try decoder.decode(VersionVector.self, from: Data(contextBytes)) } catch { throw Failure.malformed("bad causal context") }
                }
            }
            let actor = try string(&page)
            let reason = flags.contains(.reason) ? try string(&page) : nil
            let reference = flags.contains(.reference) ? try string(&page) : nil
            operations.append(LedgerOperation(
                origin: origin, sequence: sequence, timestamp: HLCTimestamp(rawValue: lastTimestamp), kind: kinds[Int(kindIndex)],
                sku: sku, movementID: movementID, warehouse: warehouse, delta: delta, counter: counter, transfer: transfer,
                product: product, actor: actor, reason: reason, reference: reference, context: context))
        }
        guard page.readableBytes == 0 else { throw Failure.malformed("trailing bytes") }
        return operations
    }
}

extension ByteBuffer {
    mutating func writeVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        writeInteger(UInt8(value))
    }

    mutating func writeZigzag(_ value: Int64) { writeVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }

    mutating func writeUUID(_ uuid: UUID) {
        _ = withUnsafeBytes(of: uuid.uuid) { writeBytes($0) }
    }

    mutating func readVarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard let byte: UInt8 = readInteger() else { throw OperationPage.Failure.malformed("truncated varint") }
            guard shift < 64 else { throw OperationPage.Failure.malformed("varint too long") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func readZigzag() throws -> Int64 {
        let raw = try readVarint()
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    /// A count or index no greater than `limit`.
    mutating func readCount(limit: Int) throws -> Int {
        let value = try readVarint()
        guard limit >= 0, value <= UInt64(limit) else { throw OperationPage.Failure.malformed("count \(value) out of range") }
        return Int(value)
    }

    mutating func readUUID() throws -> UUID {
        guard let bytes = readBytes(length: 16) else { throw OperationPage.Failure.malformed("truncated uuid") }
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
