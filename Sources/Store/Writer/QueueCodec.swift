import CRDT
import Foundation

/// Encodes write-queue bodies. The first byte names the body's format, so a reader never guesses:
///
/// | byte | request body                         | reply body                               |
/// |------|--------------------------------------|------------------------------------------|
/// | 1    | JSON `WriteRequestEnvelope`          | JSON `WriteReply`                        |
/// | 2    | binary `MovementRequest`             | binary movement outcome                  |
/// | 3    | `LedgerOperationCodec` batch (merge) | —                                        |
/// | 4    | the same, from a peer (signed merge) | —                                        |
/// | 5    | a signed merge decoded already       | —                                        |
///
/// A body of format 5 is the one byte: the decoded merge waits in ``PreparedMerges`` under the request's id, and
/// only a request of this process's ``InProcessWriteClient`` may carry it.
///
/// The binary forms cover the hot path (movements and their acknowledgements): JSON coding cost more than the
/// SQLite work of a movement. Anything else travels as JSON. Unknown format bytes are refused.
enum QueueCodec {
    static let json: UInt8 = 1
    static let binaryMovement: UInt8 = 2
    static let binaryMerge: UInt8 = 3
    static let signedMerge: UInt8 = 4
    static let preparedMerge: UInt8 = 5

    /// Whether a batch of these requests holds only peers' pages, whose commit needs no fsync of its own.
    static func isPeerMerge(_ body: [UInt8]) -> Bool { body.first == signedMerge || body.first == preparedMerge }

    /// ``encodeRequest(_:)`` for a submitter: a command that cannot be encoded is the caller's invalid input.
    static func submission(_ command: WriteCommand) throws(StoreError) -> [UInt8] {
        do {
            return try encodeRequest(command)
        } catch {
            throw .invalidInput("command cannot be encoded: \(error)")
        }
    }

    static func encodeRequest(_ command: WriteCommand) throws -> [UInt8] {
        if case .movement(let request) = command {
            var writer = ByteWriter(format: binaryMovement)
            writer.byte(MovementType.allCases.firstIndex(of: request.type).map(UInt8.init) ?? 0)
            writer.string(request.sku.rawValue)
            writer.int64(request.quantity)
            writer.optionalString(request.to?.rawValue)
            writer.optionalString(request.reason)
            writer.optionalString(request.reference)
            writer.string(request.id)
            writer.string(request.actor)
            return writer.bytes
        }
        if case .merge(let operations) = command {
            return mergeRequest(encoded: try LedgerOperationCodec.encode(operations))
        }
        if case .mergeSigned(let operations, let proofs) = command {
            return mergeRequest(encoded: try LedgerOperationCodec.encode(operations, proofs: proofs), signed: true)
        }
        return [json] + Array(try JSONEncoder().encode(WriteRequestEnvelope(v: WriteWire.version, command: command)))
    }

    /// A merge request around operations already encoded by ``LedgerOperationCodec``.
    /// `signed`: a peer's batch, whose operations are applied only as far as their origins' proofs cover them.
    static func mergeRequest(encoded operations: [UInt8], signed: Bool = false) -> [UInt8] {
        var body = [signed ? signedMerge : binaryMerge]
        body.reserveCapacity(operations.count + 1)
        body.append(contentsOf: operations)
        return body
    }

    static func decodeRequest(_ body: [UInt8]) throws(StoreError) -> WriteCommand {
        var operations: [LedgerOperation] = []
        var bodies = EncodedBodies()
        return try decodeRequest(body, reusing: &operations, bodies: &bodies)
    }

    /// Decodes a request; a merge's operations are decoded into `operations` and the row bodies that carried them
    /// into `bodies`, whose storage the writer reuses from one page to the next (see
    /// ``LedgerOperationCodec/decode(_:from:into:bodies:)``).
    static func decodeRequest(
        _ body: [UInt8], reusing operations: inout [LedgerOperation], bodies: inout EncodedBodies
    ) throws(StoreError) -> WriteCommand {
        guard let format = body.first else { throw .invalidInput("empty write request") }
        switch format {
        case binaryMovement:
            var reader = ByteReader(body)
            let typeIndex = Int(try reader.byte())
            guard typeIndex < MovementType.allCases.count else { throw .invalidInput("unknown movement type \(typeIndex)") }
            let type = MovementType.allCases[typeIndex]
            let sku = try SKU(try reader.string())
            let quantity = try reader.int64()
            let to: ReplicaID?
            do { to = try reader.optionalString().map { try ReplicaID($0) } } catch { throw .invalidInput("bad warehouse id: \(error)") }
            let reason = try reader.optionalString()
            let reference = try reader.optionalString()
            let id = try reader.string()
            let actor = try reader.string()
            return .movement(MovementRequest(
                type: type, sku: sku, quantity: quantity, to: to, reason: reason, reference: reference, id: id, actor: actor))
        case binaryMerge:
            try LedgerOperationCodec.decode(body, from: 1, into: &operations, bodies: &bodies)
            return .merge(operations)
        case signedMerge:
            let proofs = try LedgerOperationCodec.decode(body, from: 1, into: &operations, bodies: &bodies)
            return .mergeSigned(operations, proofs)
        case preparedMerge:
            throw .invalidInput("a prepared merge is taken from this process's client only")
        case json:
            let envelope: WriteRequestEnvelope
            do { envelope = try JSONDecoder().decode(WriteRequestEnvelope.self, from: Data(body[1...])) } catch {
                throw .invalidInput("undecodable write command: \(error)")
            }
            guard envelope.v == WriteWire.version else { throw .invalidInput("unsupported write format version \(envelope.v)") }
            return envelope.command
        default:
            throw .invalidInput("unknown write request format \(format)")
        }
    }

    static func encodeReply(_ result: Result<WriteOutcome, StoreError>) -> [UInt8] {
        if case .success(.movement(let record, let duplicate)) = result {
            var writer = ByteWriter(format: binaryMovement)
            writer.byte(duplicate ? 1 : 0)
            writer.string(record.id)
            writer.string(record.type.rawValue)
            writer.string(record.sku)
            writer.optionalString(record.warehouse)
            writer.int64(record.quantity)
            writer.int64(record.delta)
            writer.string(record.origin)
            writer.uint64(record.sequence)
            writer.uint64(record.timestamp.rawValue)
            writer.string(record.user)
            writer.optionalString(record.reason)
            writer.optionalString(record.reference)
            writer.optionalString(record.transferID)
            writer.optionalString(record.counterpart)
            writer.optionalString(record.document)
            return writer.bytes
        }
        let reply: WriteReply
        switch result {
        case .success(let outcome): reply = WriteReply(v: WriteWire.version, outcome: outcome, error: nil)
        case .failure(let error): reply = WriteReply(v: WriteWire.version, outcome: nil, error: error)
        }
        do { return [json] + Array(try JSONEncoder().encode(reply)) } catch {
            return [json] + Array(#"{"v":1,"error":{"storage":{"_0":"reply encoding failed"}}}"#.utf8)
        }
    }

    static func decodeReply(_ body: [UInt8]) -> Result<WriteOutcome, StoreError> {
        guard let format = body.first else { return .failure(.storage("empty reply from the writer")) }
        switch format {
        case binaryMovement:
            do throws(StoreError) {
                var reader = ByteReader(body)
                let duplicate = try reader.byte() == 1
                let id = try reader.string()
                let kindRaw = try reader.string()
                guard let kind = OperationKind(rawValue: kindRaw) else { throw .storage("unknown kind \(kindRaw)") }
                let record = MovementRecord(
                    id: id, type: kind, sku: try reader.string(), warehouse: try reader.optionalString(),
                    quantity: try reader.int64(), delta: try reader.int64(), origin: try reader.string(),
                    sequence: try reader.uint64(), timestamp: HLCTimestamp(rawValue: try reader.uint64()),
                    user: try reader.string(), reason: try reader.optionalString(), reference: try reader.optionalString(),
                    transferID: try reader.optionalString(), counterpart: try reader.optionalString(),
                    document: try reader.optionalString())
                return .success(.movement(record, duplicate: duplicate))
            } catch {
                return .failure(error)
            }
        case json:
            do { return try JSONDecoder().decode(WriteReply.self, from: Data(body[1...])).result } catch {
                return .failure(.storage("undecodable reply from the writer: \(error)"))
            }
        default:
            return .failure(.storage("unknown reply format \(format)"))
        }
    }
}

/// Appends little-endian integers and length-prefixed UTF-8 strings.
struct ByteWriter {
    private(set) var bytes: [UInt8]

    init(format: UInt8) {
        bytes = [format]
        bytes.reserveCapacity(128)
    }

    mutating func reserveCapacity(_ count: Int) { bytes.reserveCapacity(count) }

    /// Empties the buffer down to a format byte, keeping its capacity for the next message.
    mutating func reset(format: UInt8) {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(format)
    }

    mutating func byte(_ value: UInt8) { bytes.append(value) }
    mutating func uint64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func int64(_ value: Int64) { uint64(UInt64(bitPattern: value)) }

    mutating func string(_ value: String) {
        let utf8 = value.utf8
        withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: utf8)
    }

    mutating func optionalString(_ value: String?) {
        if let value {
            byte(1)
            string(value)
        } else {
            byte(0)
        }
    }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func zigzag(_ value: Int64) { varint(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }

    mutating func blob(_ value: [UInt8]) {
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// The 16 bytes of a UUID given as ``CanonicalUUIDText/words(_:)`` gives them.
    mutating func uuid(words: (high: UInt64, low: UInt64)) {
        uint64BigEndian(words.high)
        uint64BigEndian(words.low)
    }

    mutating func uint64BigEndian(_ value: UInt64) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }

    /// A varint length, then the UTF-8 bytes.
    mutating func text(_ value: String) {
        let utf8 = value.utf8
        varint(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    mutating func uuid(_ value: UUID) { withUnsafeBytes(of: value.uuid) { bytes.append(contentsOf: $0) } }

    mutating func append(_ more: some Sequence<UInt8>) { bytes.append(contentsOf: more) }
}

/// Reads what ``ByteWriter`` wrote; every read is bounds-checked.
struct ByteReader: VarintReading {
    private let bytes: [UInt8]
    private var offset = 1

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Reads from `offset` on (the default skips a leading format byte).
    init(_ bytes: [UInt8], offset: Int) {
        self.bytes = bytes
        self.offset = offset
    }

    private static let truncated = StoreError.invalidInput("truncated write-queue message")
    static let varintTooLong = StoreError.invalidInput("varint too long")

    mutating func byte() throws(StoreError) -> UInt8 {
        guard offset < bytes.count else { throw Self.truncated }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint64() throws(StoreError) -> UInt64 {
        guard offset + 8 <= bytes.count else { throw Self.truncated }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[offset + index]) << (8 * UInt64(index)) }
        offset += 8
        return value
    }

    mutating func int64() throws(StoreError) -> Int64 { Int64(bitPattern: try uint64()) }

    mutating func string() throws(StoreError) -> String {
        guard offset + 4 <= bytes.count else { throw Self.truncated }
        var length = 0
        for index in 0..<4 { length |= Int(bytes[offset + index]) << (8 * index) }
        offset += 4
        guard length <= bytes.count - offset else { throw Self.truncated }
        defer { offset += length }
        guard let text = UTF8Text.validated(bytes[offset..<offset + length]) else {
            throw .invalidInput("invalid UTF-8 in write-queue message")
        }
        return text
    }

    mutating func optionalString() throws(StoreError) -> String? {
        try byte() == 1 ? try string() : nil
    }

    var isAtEnd: Bool { offset == bytes.count }

    /// A count or index no greater than `limit`.
    mutating func count(limit: Int) throws(StoreError) -> Int {
        let value = try varint()
        guard limit >= 0, value <= UInt64(limit) else { throw .invalidInput("count \(value) out of range") }
        return Int(value)
    }

    mutating func blob() throws(StoreError) -> ArraySlice<UInt8> {
        // The length is read first: the limit is what remains after it.
        let declared = try varint()
        guard declared <= UInt64(bytes.count - offset) else { throw Self.truncated }
        let length = Int(declared)
        defer { offset += length }
        return bytes[offset..<offset + length]
    }

    /// The next `count` bytes.
    mutating func fixed(_ count: Int) throws(StoreError) -> ArraySlice<UInt8> {
        guard count <= bytes.count - offset else { throw Self.truncated }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    /// Reads 16 bytes as a canonical lowercase UUID text.
    mutating func canonicalUUIDText() throws(StoreError) -> String {
        guard offset + 16 <= bytes.count else { throw Self.truncated }
        defer { offset += 16 }
        return CanonicalUUIDText.text(bytes[offset..<offset + 16])
    }

    mutating func uuid() throws(StoreError) -> UUID {
        guard offset + 16 <= bytes.count else { throw Self.truncated }
        let b = bytes
        let o = offset
        offset += 16
        return UUID(uuid: (b[o], b[o + 1], b[o + 2], b[o + 3], b[o + 4], b[o + 5], b[o + 6], b[o + 7], b[o + 8], b[o + 9], b[o + 10], b[o + 11], b[o + 12], b[o + 13], b[o + 14], b[o + 15]))
    }
}
