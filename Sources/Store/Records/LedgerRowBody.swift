import CRDT
import Foundation

/// The stored form of one ledger operation: everything but its dot `(origin, sequence)`, which is the row's key.
///
/// A ledger row used to spread an operation over twenty SQLite columns. Building, checking and inserting that
/// record was the largest single cost of a catching-up node (about 2.2 µs of its 5 µs per merged operation, with
/// as much again to bind the columns); one short blob costs a third of it. SQL still sees every field: the
/// `operations` view computes them with ``LedgerSQLFunctions`` (`ledger_field(body, 'sku')`, …).
///
/// Version 1, the ``LedgerOperationCodec`` layout of one operation with strings inline:
/// ```
/// u8       body version (1)
/// varint   timestamp (HLC)
/// u8       kind (index in OperationKind.allCases)
/// text     sku                                   (text: varint length + UTF-8)
/// u8       flags (LedgerOperationCodec.Flags)
/// [16 bytes movement UUID | text]                (flags: has id, id is a UUID)
/// [text warehouse]   zigzag delta   [varint increments, varint decrements]
/// [transfer: u8 form, 16-byte id or text, text from, text to, varint shipped+1, varint accepted+1]
/// [text JSON product patch, text JSON causal context]   (flags: product; an empty text is none)
/// text actor   [text reason]   [text reference]
/// ```
///
/// Version 2, for the operations a node of version 1 would misread (``LedgerOperation/encodingVersion``: returns,
/// lines of multi-line transfers), is version 1 with the transfer extended and a transfer back after it:
/// ```
/// [transfer: … as version 1 …, varint returned+1, u8 is line]
/// u8 has transfer back   [transfer back: the same layout as the transfer]
/// ```
/// Version 3, for a line of a document (``LedgerOperation/document``), is version 2 with the document's id after the
/// transfer back:
/// ```
/// u8 document form (0: none, 1: 16-byte UUID, 2: text)   [16 bytes | text]
/// ```
/// Every other operation keeps its version-1 or version-2 body byte for byte, so the chain hashes over it never
/// change.
///
/// Invariant: `decode(encode(op))` gives `op` back, field for field; a body of another version, truncated, with
/// trailing bytes or invalid UTF-8 is refused with an error, never a crash.
enum LedgerRowBody {
    /// The version of the bodies of operations that need no other (``LedgerOperation/encodingVersion``).
    static let version: UInt8 = 1
    /// The highest body version this node reads.
    static let latestVersion: UInt8 = 3
    private static let kinds = OperationKind.allCases

    static func encode(_ op: LedgerOperation) throws -> [UInt8] {
        var body = ByteWriter(format: op.encodingVersion)
        try encode(op, into: &body)
        return body.bytes
    }

    /// Encodes `op` into `body`, replacing what it held: one buffer serves a whole merge, without an allocation
    /// per operation.
    static func encode(_ op: LedgerOperation, into body: inout ByteWriter) throws {
        let version = op.encodingVersion
        body.reset(format: version)
        body.varint(op.timestamp.rawValue)
        body.byte(UInt8(kinds.firstIndex(of: op.kind) ?? 0))
        body.text(op.sku.rawValue)
        let movementUUID = op.movementID.flatMap(CanonicalUUIDText.words)
        let flags = LedgerOperationCodec.Flags(
            op, movementIDIsUUID: movementUUID != nil, product: op.product != nil || op.context != nil)
        body.byte(flags.rawValue)
        if let id = op.movementID {
            if let movementUUID { body.uuid(words: movementUUID) } else { body.text(id) }
        }
        if let warehouse = op.warehouse { body.text(warehouse.rawValue) }
        body.zigzag(op.delta)
        if let counter = op.counter {
            body.varint(counter.increments)
            body.varint(counter.decrements)
        }
        if let transfer = op.transfer { encode(transfer, version: version, into: &body) }
        if version >= 2 {
            body.byte(op.transferBack == nil ? 0 : 1)
            if let back = op.transferBack { encode(back, version: version, into: &body) }
        }
        if version >= 3 {
            if let document = op.document {
                if let uuid = CanonicalUUIDText.words(document) {
                    body.byte(1)
                    body.uuid(words: uuid)
                } else {
                    body.byte(2)
                    body.text(document)
                }
            } else {
                body.byte(0)
            }
        }
        if op.product != nil || op.context != nil {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            body.blob(try op.product.map { Array(try encoder.encode($0)) } ?? [])
            body.blob(try op.context.map { Array(try encoder.encode($0)) } ?? [])
        }
        body.text(op.actor)
        if let reason = op.reason { body.text(reason) }
        if let reference = op.reference { body.text(reference) }
    }

    private static func encode(_ transfer: TransferDelta, version: UInt8, into body: inout ByteWriter) {
        if let uuid = CanonicalUUIDText.words(transfer.id) {
            body.byte(1)
            body.uuid(words: uuid)
        } else {
            body.byte(0)
            body.text(transfer.id)
        }
        body.text(transfer.from.rawValue)
        body.text(transfer.to.rawValue)
        body.varint(transfer.shipped.map { UInt64(max($0, 0)) + 1 } ?? 0)
        body.varint(transfer.accepted.map { UInt64(max($0, 0)) + 1 } ?? 0)
        if version >= 2 {
            body.varint(transfer.returned.map { UInt64(max($0, 0)) + 1 } ?? 0)
            body.byte(transfer.isLine ? 1 : 0)
        }
    }

    /// A body's fields located in place, without copying: texts are byte ranges of the body.
    struct Fields {
        var timestamp: UInt64 = 0
        var kind: OperationKind = .receive
        var sku: Range<Int> = 0..<0
        /// 16 bytes when `movementIDIsUUID`, else UTF-8.
        var movementID: Range<Int>?
        var movementIDIsUUID = false
        var warehouse: Range<Int>?
        var delta: Int64 = 0
        var counter: PNCounter.Entry?
        var transfer: Transfer?
        var transferBack: Transfer?
        var product: Range<Int>?
        var context: Range<Int>?
        var actor: Range<Int> = 0..<0
        var reason: Range<Int>?
        var reference: Range<Int>?
        /// 16 bytes when `documentIsUUID`, else UTF-8.
        var document: Range<Int>?
        var documentIsUUID = false

        struct Transfer {
            var id: Range<Int>
            var idIsUUID: Bool
            var from: Range<Int>
            var to: Range<Int>
            var shipped: Int64?
            var accepted: Int64?
            var returned: Int64?
            var isLine = false

            init(_ reader: inout RawByteReader, version: UInt8) throws(StoreError) {
                idIsUUID = try reader.byte() == 1
                id = idIsUUID ? try reader.fixed(16) : try reader.text()
                from = try reader.text()
                to = try reader.text()
                let shipped = try reader.varint()
                let accepted = try reader.varint()
                self.shipped = shipped == 0 ? nil : Int64(clamping: shipped - 1)
                self.accepted = accepted == 0 ? nil : Int64(clamping: accepted - 1)
                if version >= 2 {
                    let returned = try reader.varint()
                    self.returned = returned == 0 ? nil : Int64(clamping: returned - 1)
                    switch try reader.byte() {
                    case 0: isLine = false
                    case 1: isLine = true
                    default: throw StoreError.storage("bad transfer line flag in ledger row")
                    }
                }
            }
        }

        /// Parses a whole body (every field checked for bounds; texts are checked for UTF-8 when read).
        init(_ body: UnsafeRawBufferPointer) throws(StoreError) {
            var reader = RawByteReader(body)
            let version = try reader.byte()
            guard (1...LedgerRowBody.latestVersion).contains(version) else { throw StoreError.storage("unknown ledger row version \(version)") }
            timestamp = try reader.varint()
            let kindIndex = Int(try reader.byte())
            guard kindIndex < LedgerRowBody.kinds.count else { throw StoreError.storage("unknown operation kind \(kindIndex)") }
            kind = LedgerRowBody.kinds[kindIndex]
            sku = try reader.text()
            let flags = LedgerOperationCodec.Flags(rawValue: try reader.byte())
            if flags.contains(.movementID) {
                movementIDIsUUID = flags.contains(.movementIDIsUUID)
                movementID = movementIDIsUUID ? try reader.fixed(16) : try reader.text()
            }
            if flags.contains(.warehouse) { warehouse = try reader.text() }
            delta = try reader.zigzag()
            if flags.contains(.counter) { counter = PNCounter.Entry(increments: try reader.varint(), decrements: try reader.varint()) }
            if flags.contains(.transfer) { transfer = try Transfer(&reader, version: version) }
            if version >= 2 {
                switch try reader.byte() {
                case 0: break
                case 1: transferBack = try Transfer(&reader, version: version)
                default: throw StoreError.storage("bad transfer back flag in ledger row")
                }
            }
            if version >= 3 {
                switch try reader.byte() {
                case 0: break
                case 1:
                    documentIsUUID = true
                    document = try reader.fixed(16)
                case 2: document = try reader.text()
                default: throw StoreError.storage("bad document form in ledger row")
                }
            }
            if flags.contains(.product) {
                let product = try reader.text()
                if !product.isEmpty { self.product = product }
                let context = try reader.text()
                if !context.isEmpty { self.context = context }
            }
            actor = try reader.text()
            if flags.contains(.reason) { reason = try reader.text() }
            if flags.contains(.reference) { reference = try reader.text() }
            guard reader.isAtEnd else { throw StoreError.storage("trailing bytes in ledger row") }
        }
    }

    /// Texts of the operation decoded before, reused when the next repeats them byte for byte: consecutive
    /// operations of a page mostly name the same warehouse (their origin) and actor, and a reused text is neither
    /// validated nor allocated again.
    struct RepeatedTexts {
        var warehouse: ReplicaID?
        var actor: String?

        init() {}
    }

    /// The operation `(origin, sequence)` whose row body is `body`.
    static func decode(origin: ReplicaID, sequence: UInt64, body: UnsafeRawBufferPointer) throws -> LedgerOperation {
        var repeated = RepeatedTexts()
        return try decode(origin: origin, sequence: sequence, body: body, repeated: &repeated)
    }

    /// The operation `(origin, sequence)` whose row body is `body`, reusing `repeated`'s texts where they are the
    /// same and leaving this operation's texts in it for the next.
    static func decode(
        origin: ReplicaID, sequence: UInt64, body: UnsafeRawBufferPointer, repeated: inout RepeatedTexts
    ) throws -> LedgerOperation {
        let fields = try Fields(body)
        func text(_ range: Range<Int>) throws(StoreError) -> String {
            guard let text = UTF8Text.validated(UnsafeRawBufferPointer(rebasing: body[range])) else { throw StoreError.storage("invalid UTF-8 in ledger row") }
            return text
        }
        func same(_ known: String?, _ range: Range<Int>) -> Bool {
            known.map { $0.utf8.elementsEqual(UnsafeRawBufferPointer(rebasing: body[range])) } ?? false
        }
        func replica(_ range: Range<Int>) throws(StoreError) -> ReplicaID {
            let raw = try text(range)
            do { return try ReplicaID(raw) } catch { throw StoreError.storage("bad replica id in ledger: \(raw)") }
        }
        func warehouse(_ range: Range<Int>) throws(StoreError) -> ReplicaID {
            if same(origin.rawValue, range) { return origin }
            if let known = repeated.warehouse, same(known.rawValue, range) { return known }
            let decoded = try replica(range)
            repeated.warehouse = decoded
            return decoded
        }
        func actor(_ range: Range<Int>) throws(StoreError) -> String {
            if let known = repeated.actor, same(known, range) { return known }
            let decoded = try text(range)
            repeated.actor = decoded
            return decoded
        }
        func id(_ range: Range<Int>, isUUID: Bool) throws(StoreError) -> String {
            isUUID ? CanonicalUUIDText.text(body[range]) : try text(range)
        }
        func delta(_ stored: Fields.Transfer?) throws(StoreError) -> TransferDelta? {
            guard let stored else { return nil }
            return TransferDelta(
                id: try id(stored.id, isUUID: stored.idIsUUID), from: try replica(stored.from), to: try replica(stored.to),
                shipped: stored.shipped, accepted: stored.accepted, returned: stored.returned, isLine: stored.isLine)
        }
        let transfer = try delta(fields.transfer)
        let decoder = JSONDecoder()
        return LedgerOperation(
            origin: origin, sequence: sequence, timestamp: HLCTimestamp(rawValue: fields.timestamp), kind: fields.kind,
            sku: try SKU(try text(fields.sku)), movementID: try fields.movementID.map { range throws(StoreError) in try id(range, isUUID: fields.movementIDIsUUID) },
            warehouse: try fields.warehouse.map(warehouse), delta: fields.delta, counter: fields.counter, transfer: transfer,
            product: try fields.product.map { try decoder.decode(ProductPatch.self, from: Data(body[$0])) },
            actor: try actor(fields.actor), reason: try fields.reason.map(text), reference: try fields.reference.map(text),
            context: try fields.context.map { try decoder.decode(VersionVector.self, from: Data(body[$0])) },
            transferBack: try delta(fields.transferBack),
            document: try fields.document.map { range throws(StoreError) in try id(range, isUUID: fields.documentIsUUID) })
    }

    static func decode(origin: ReplicaID, sequence: UInt64, body: [UInt8]) throws -> LedgerOperation {
        try body.withUnsafeBytes { try decode(origin: origin, sequence: sequence, body: $0) }
    }
}

/// Reads ``ByteWriter`` output in place; every read is bounds-checked.
struct RawByteReader: VarintReading {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private static let truncated = StoreError.storage("truncated ledger row")
    static let varintTooLong = StoreError.storage("varint too long in ledger row")

    var isAtEnd: Bool { offset == bytes.count }

    mutating func byte() throws(StoreError) -> UInt8 {
        guard offset < bytes.count else { throw Self.truncated }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func fixed(_ count: Int) throws(StoreError) -> Range<Int> {
        guard count <= bytes.count - offset else { throw Self.truncated }
        defer { offset += count }
        return offset..<offset + count
    }

    /// A varint length, then that many bytes.
    mutating func text() throws(StoreError) -> Range<Int> {
        let declared = try varint()
        guard declared <= UInt64(bytes.count - offset) else { throw Self.truncated }
        return try fixed(Int(declared))
    }
}
