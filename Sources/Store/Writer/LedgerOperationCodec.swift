import CRDT
import Foundation

/// The compact binary form of a batch of ledger operations: used on the write queue for merges, and (deflated)
/// as the peer-sync page format.
///
/// Version 2 (version 1 lacked the proofs at the end):
/// ```
/// u8       format version (2)
/// varint   string-table size, then each string: varint length + UTF-8
/// varint   operation count, then per operation:
///   varint origin (string index)     zigzag sequence delta from the previous operation of the same origin
///   zigzag   timestamp delta from the previous operation
///   u8 kind (index in OperationKind.allCases)   varint sku (string index)   u8 flags
///   [16 bytes movement UUID | varint string index]    (flags: has id, id is a UUID)
///   [varint warehouse]  zigzag delta  [varint increments, varint decrements]
///   [transfer: u8 form, 16-byte id or string index, from, to, varint shipped+1, varint accepted+1]
///   [varint length + JSON product patch, varint length + JSON causal context (0: none)]
///   varint actor   [varint reason]   [varint reference]
/// varint   head count, then per head (``SignedHead``):
///   varint origin (string index)   varint sequence   32 bytes hash   u8 proof (0: origin signature, 1: checkpoint mark)
///   [proof 0: varint length + signature]
/// varint   checkpoint length (0: none), then the ``ChainCheckpoint`` encoding
/// ```
///
/// Version 3 is version 2 with, per operation, the transfer extended and a transfer back after it, as in a
/// ``LedgerRowBody`` of version 2 (`[transfer: …, varint returned+1, u8 is line]`, `u8 has transfer back`,
/// `[transfer back]`). A batch is written in version 3 only when one of its operations needs it
/// (``LedgerOperation/encodingVersion``), so a node that reads only version 2 refuses exactly the pages it would
/// misread, and keeps syncing the others.
///
/// Version 4 is version 3 with, per operation, the document it is a line of after the transfer back (as in a
/// ``LedgerRowBody`` of version 3): `u8 document form (0: none, 1: 16-byte UUID, 2: string index)`, `[16 bytes |
/// varint]`. A batch holding a line of a document is written in version 4, so a node that cannot carry the document
/// refuses it rather than drop it.
///
/// Strings that repeat (SKUs, warehouses, users, reasons) are sent once per batch. A reader refuses any other
/// version, a truncated batch, an index outside the string table, a sequence outside
/// `1...LedgerOperation.maxSequence` or a timestamp above ``LedgerOperation/maxTimestamp``, with an error and never
/// a crash: a batch may come from a hostile peer.
public enum LedgerOperationCodec {
    /// The version of batches whose operations all keep their first encoding.
    public static let version: UInt8 = 2
    /// The version of batches holding lines of documents, the highest this node reads (3: returns or lines of
    /// multi-line transfers, but no document).
    public static let latestVersion: UInt8 = 4
    /// The first version whose transfers carry their returned quantity and line flag, and a transfer back.
    static let transferLinesVersion: UInt8 = 3
    /// The first version whose operations carry their document.
    static let documentsVersion: UInt8 = 4

    /// Whether this node reads batches of `version`.
    public static func reads(_ version: UInt8) -> Bool { (Self.version...latestVersion).contains(version) }

    /// The version a batch of operations needing at most operation encoding `encodingVersion` is written in
    /// (``LedgerOperation/encodingVersion``: 1 → 2, 2 → 3, 3 → 4).
    static func batchVersion(forEncoding encodingVersion: UInt8) -> UInt8 { encodingVersion + 1 }
    /// The longest signature a head may carry (a raw P-256 signature has 64 bytes).
    static let maxSignatureBytes = 128

    struct Flags: OptionSet {
        let rawValue: UInt8
        static let movementID = Flags(rawValue: 1 << 0)
        static let movementIDIsUUID = Flags(rawValue: 1 << 1)
        static let warehouse = Flags(rawValue: 1 << 2)
        static let counter = Flags(rawValue: 1 << 3)
        static let transfer = Flags(rawValue: 1 << 4)
        static let product = Flags(rawValue: 1 << 5)
        static let reason = Flags(rawValue: 1 << 6)
        static let reference = Flags(rawValue: 1 << 7)

        init(rawValue: UInt8) { self.rawValue = rawValue }

        /// The fields `op` carries. Whether its product patch and causal context are written (`product`) is the
        /// caller's: a batch writes them only with a patch, a stored row body whenever either is present, and the
        /// chain hashes over stored bodies fix that difference for good.
        init(_ op: LedgerOperation, movementIDIsUUID: Bool, product: Bool) {
            var flags: Flags = []
            if op.movementID != nil { flags.insert(.movementID) }
            if movementIDIsUUID { flags.insert(.movementIDIsUUID) }
            if op.warehouse != nil { flags.insert(.warehouse) }
            if op.counter != nil { flags.insert(.counter) }
            if op.transfer != nil { flags.insert(.transfer) }
            if product { flags.insert(.product) }
            if op.reason != nil { flags.insert(.reason) }
            if op.reference != nil { flags.insert(.reference) }
            self = flags
        }
    }

    private static let kinds = OperationKind.allCases

    public static func encode(_ operations: [LedgerOperation], proofs: PageProofs = PageProofs()) throws -> [UInt8] {
        var strings: [String] = []
        var index: [String: Int] = [:]
        func intern(_ text: String) -> UInt64 {
            if let existing = index[text] { return UInt64(existing) }
            index[text] = strings.count
            strings.append(text)
            return UInt64(strings.count - 1)
        }
        let version = batchVersion(forEncoding: operations.lazy.map(\.encodingVersion).max() ?? 1)
        var body = ByteWriter(format: version)
        body.varint(UInt64(operations.count))
        var lastSequence: [ReplicaID: UInt64] = [:]
        var lastTimestamp: UInt64 = 0
        let encoder = JSONEncoder()
        for op in operations {
            body.varint(intern(op.origin.rawValue))
            body.zigzag(Int64(bitPattern: op.sequence &- (lastSequence[op.origin] ?? 0)))
            lastSequence[op.origin] = op.sequence
            body.zigzag(Int64(bitPattern: op.timestamp.rawValue &- lastTimestamp))
            lastTimestamp = op.timestamp.rawValue
            body.byte(UInt8(kinds.firstIndex(of: op.kind) ?? 0))
            body.varint(intern(op.sku.rawValue))
            let movementUUID = op.movementID.flatMap(CanonicalUUIDText.words)
            let flags = Flags(op, movementIDIsUUID: movementUUID != nil, product: op.product != nil)
            body.byte(flags.rawValue)
            if let id = op.movementID {
                if let movementUUID { body.uuid(words: movementUUID) } else { body.varint(intern(id)) }
            }
            if let warehouse = op.warehouse { body.varint(intern(warehouse.rawValue)) }
            body.zigzag(op.delta)
            if let counter = op.counter {
                body.varint(counter.increments)
                body.varint(counter.decrements)
            }
            func writeTransfer(_ transfer: TransferDelta) {
                if let uuid = CanonicalUUIDText.words(transfer.id) {
                    body.byte(1)
                    body.uuid(words: uuid)
                } else {
                    body.byte(0)
                    body.varint(intern(transfer.id))
                }
                body.varint(intern(transfer.from.rawValue))
                body.varint(intern(transfer.to.rawValue))
                body.varint(transfer.shipped.map { UInt64(max($0, 0)) + 1 } ?? 0)
                body.varint(transfer.accepted.map { UInt64(max($0, 0)) + 1 } ?? 0)
                if version >= transferLinesVersion {
                    body.varint(transfer.returned.map { UInt64(max($0, 0)) + 1 } ?? 0)
                    body.byte(transfer.isLine ? 1 : 0)
                }
            }
            if let transfer = op.transfer { writeTransfer(transfer) }
            if version >= transferLinesVersion {
                body.byte(op.transferBack == nil ? 0 : 1)
                if let back = op.transferBack { writeTransfer(back) }
            }
            if version >= documentsVersion {
                if let document = op.document {
                    if let uuid = CanonicalUUIDText.words(document) {
                        body.byte(1)
                        body.uuid(words: uuid)
                    } else {
                        body.byte(2)
                        body.varint(intern(document))
                    }
                } else {
                    body.byte(0)
                }
            }
            if let product = op.product {
                body.blob(Array(try encoder.encode(product)))
                body.blob(try op.context.map { Array(try encoder.encode($0)) } ?? [])
            }
            body.varint(intern(op.actor))
            if let reason = op.reason { body.varint(intern(reason)) }
            if let reference = op.reference { body.varint(intern(reference)) }
        }
        body.varint(UInt64(proofs.heads.count))
        for head in proofs.heads {
            body.varint(intern(head.origin.rawValue))
            body.varint(head.sequence)
            body.append(head.hash.bytes)
            switch head.proof {
            case .origin(let signature):
                body.byte(0)
                body.blob(signature)
            case .checkpoint:
                body.byte(1)
            }
        }
        body.blob(proofs.checkpoint?.encoded() ?? [])
        var out = ByteWriter(format: version)
        out.varint(UInt64(strings.count))
        for text in strings { out.blob(Array(text.utf8)) }
        out.append(body.bytes.dropFirst())
        return out.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(StoreError) -> [LedgerOperation] {
        try decodeWithProofs(bytes).operations
    }

    /// Decodes a batch and the proofs it carries.
    public static func decodeWithProofs(_ bytes: [UInt8]) throws(StoreError) -> (operations: [LedgerOperation], proofs: PageProofs) {
        var operations: [LedgerOperation] = []
        let proofs = try decode(bytes, from: 0, into: &operations)
        return (operations, proofs)
    }

    /// Decodes the batch that starts at `bytes[start]` into `operations`, replacing what it held. A writer passes
    /// the same array for every page: its storage (tens of megabytes for a page) is reused once the previous
    /// page's operations are released.
    @discardableResult
    static func decode(_ bytes: [UInt8], from start: Int, into operations: inout [LedgerOperation]) throws(StoreError) -> PageProofs {
        operations.removeAll(keepingCapacity: true)
        guard start < bytes.count else { throw .invalidOperation("empty operation batch") }
        let first = bytes[start]
        guard reads(first) else { throw .invalidOperation("unsupported operation batch version \(first)") }
        let version = first
        var reader = ByteReader(bytes, offset: start + 1)
        let stringCount = try reader.count(limit: bytes.count)
        var strings: [String] = []
        strings.reserveCapacity(stringCount)
        for _ in 0..<stringCount {
            guard let text = String(validating: try reader.blob(), as: UTF8.self) else { throw .invalidOperation("invalid UTF-8 in batch") }
            strings.append(text)
        }
        func string(_ reader: inout ByteReader) throws(StoreError) -> String {
            strings[try reader.count(limit: strings.count - 1)]
        }
        // Each table entry is validated once, however many operations name it.
        var replicas = [ReplicaID?](repeating: nil, count: strings.count)
        var skus = [SKU?](repeating: nil, count: strings.count)
        func replica(_ reader: inout ByteReader) throws(StoreError) -> ReplicaID {
            try replica(at: try reader.count(limit: strings.count - 1))
        }
        func replica(at index: Int) throws(StoreError) -> ReplicaID {
            if let known = replicas[index] { return known }
            do { replicas[index] = try ReplicaID(strings[index]) } catch { throw .invalidOperation("bad replica id \(strings[index])") }
            return replicas[index]!
        }
        func sku(_ reader: inout ByteReader) throws(StoreError) -> SKU {
            let index = try reader.count(limit: strings.count - 1)
            if let known = skus[index] { return known }
            skus[index] = try SKU(strings[index])
            return skus[index]!
        }
        let count = try reader.count(limit: bytes.count)
        // Every operation takes at least 7 bytes: a count the remaining bytes cannot hold is not believed for the
        // allocation (a 64 MiB page claiming 64 million operations would reserve gigabytes before failing).
        operations.reserveCapacity(min(count, (bytes.count - start) / 7))
        // By origin, kept per string-table index (no hashing per operation); a table that repeats a text (ours never
        // does) still chains each origin's deltas as one, through the index of its first occurrence.
        var firstIndex: [String: Int] = [:]
        let originSlot = strings.indices.map { index in
            if let first = firstIndex[strings[index]] { return first }
            firstIndex[strings[index]] = index
            return index
        }
        var lastSequence = [UInt64](repeating: 0, count: strings.count)
        var lastTimestamp: UInt64 = 0
        let decoder = JSONDecoder()
        for _ in 0..<count {
            let originIndex = try reader.count(limit: strings.count - 1)
            let origin = try replica(at: originIndex)
            let sequence = lastSequence[originSlot[originIndex]] &+ UInt64(bitPattern: try reader.zigzag())
            guard sequence >= 1, sequence <= LedgerOperation.maxSequence else {
                throw .invalidOperation("sequence \(sequence) of \(origin) is outside 1...\(LedgerOperation.maxSequence)")
            }
            lastSequence[originSlot[originIndex]] = sequence
            lastTimestamp = lastTimestamp &+ UInt64(bitPattern: try reader.zigzag())
            guard lastTimestamp <= LedgerOperation.maxTimestamp else {
                throw .invalidOperation("timestamp \(lastTimestamp) of \(origin):\(sequence) is out of range")
            }
            let kindIndex = Int(try reader.byte())
            guard kindIndex < kinds.count else { throw .invalidOperation("unknown operation kind \(kindIndex)") }
            let sku = try sku(&reader)
            let flags = Flags(rawValue: try reader.byte())
            var movementID: String?
            if flags.contains(.movementID) {
                movementID = flags.contains(.movementIDIsUUID) ? try reader.canonicalUUIDText() : try string(&reader)
            }
            let warehouse = flags.contains(.warehouse) ? try replica(&reader) : nil
            let delta = try reader.zigzag()
            var counter: PNCounter.Entry?
            if flags.contains(.counter) { counter = PNCounter.Entry(increments: try reader.varint(), decrements: try reader.varint()) }
            func transferDelta(_ reader: inout ByteReader) throws(StoreError) -> TransferDelta {
                let id = try reader.byte() == 1 ? try reader.canonicalUUIDText() : try string(&reader)
                let from = try replica(&reader)
                let to = try replica(&reader)
                let shipped = try reader.varint()
                let accepted = try reader.varint()
                var delta = TransferDelta(
                    id: id, from: from, to: to, shipped: shipped == 0 ? nil : Int64(clamping: shipped - 1),
                    accepted: accepted == 0 ? nil : Int64(clamping: accepted - 1))
                if version >= transferLinesVersion {
                    let returned = try reader.varint()
                    delta.returned = returned == 0 ? nil : Int64(clamping: returned - 1)
                    switch try reader.byte() {
                    case 0: break
                    case 1: delta.isLine = true
                    default: throw .invalidOperation("bad transfer line flag")
                    }
                }
                return delta
            }
            let transfer = flags.contains(.transfer) ? try transferDelta(&reader) : nil
            var transferBack: TransferDelta?
            if version >= transferLinesVersion {
                switch try reader.byte() {
                case 0: break
                case 1: transferBack = try transferDelta(&reader)
                default: throw .invalidOperation("bad transfer back flag")
                }
            }
            var document: String?
            if version >= documentsVersion {
                switch try reader.byte() {
                case 0: break
                case 1: document = try reader.canonicalUUIDText()
                case 2: document = try string(&reader)
                default: throw .invalidOperation("bad document form")
                }
            }
            var product: ProductPatch?
            var context: VersionVector?
            if flags.contains(.product) {
                let patch = try reader.blob()
                do { product = try decoder.decode(ProductPatch.self, from: Data(patch)) } catch { throw .invalidOperation("bad product patch") }
                let contextBytes = try reader.blob()
                if !contextBytes.isEmpty {
                    do { context = try decoder.decode(VersionVector.self, from: Data(contextBytes)) } catch {
                        throw .invalidOperation("bad causal context")
                    }
                }
            }
            let actor = try string(&reader)
            let reason = flags.contains(.reason) ? try string(&reader) : nil
            let reference = flags.contains(.reference) ? try string(&reader) : nil
            operations.append(LedgerOperation(
                origin: origin, sequence: sequence, timestamp: HLCTimestamp(rawValue: lastTimestamp), kind: kinds[kindIndex], sku: sku,
                movementID: movementID, warehouse: warehouse, delta: delta, counter: counter, transfer: transfer, product: product,
                actor: actor, reason: reason, reference: reference, context: context, transferBack: transferBack,
                document: document))
        }
        var proofs = PageProofs()
        let headCount = try reader.count(limit: (bytes.count - start) / 35)
        for _ in 0..<headCount {
            let origin = try replica(&reader)
            let sequence = try reader.varint()
            guard sequence >= 1, sequence <= LedgerOperation.maxSequence else {
                throw .invalidOperation("head sequence \(sequence) of \(origin) is out of range")
            }
            guard let hash = ChainHash(bytes: try reader.fixed(ChainHash.size)) else { throw .invalidOperation("bad head hash") }
            let proof: SignedHead.Proof
            switch try reader.byte() {
            case 0:
                let signature = try reader.blob()
                guard signature.count <= maxSignatureBytes else { throw .invalidOperation("head signature too long") }
                proof = .origin(signature: Array(signature))
            case 1:
                proof = .checkpoint
            case let other:
                throw .invalidOperation("unknown head proof \(other)")
            }
            proofs.heads.append(SignedHead(origin: origin, sequence: sequence, hash: hash, proof: proof))
        }
        let checkpoint = try reader.blob()
        if !checkpoint.isEmpty { proofs.checkpoint = try ChainCheckpoint(decoding: Array(checkpoint)) }
        guard reader.isAtEnd else { throw .invalidOperation("trailing bytes after operation batch") }
        return proofs
    }
}
