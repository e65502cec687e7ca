import CRDT
import Foundation

/// The binary form of a batch of ledger operations: the peer-sync page format (deflated, ``OperationPage``), and
/// the form merges take over the node's write queue.
///
/// Version 5, the one this node writes, carries each operation as the row body its origin stores
/// (``LedgerRowBody``), so an operation is encoded once, at its origin: a sender copies stored bodies into the page
/// without decoding them, and a receiver hashes and stores the bytes it received (``StoredRows``).
/// ```
/// u8       format version (5)
/// varint   string-table size, then each string: varint length + UTF-8     (the origins of operations and heads)
/// varint   operation count, then per operation:
///   varint origin (string index)   zigzag sequence delta from the previous operation of the same origin
///   varint body length, then the row body as stored
/// varint   head count, then per head (``SignedHead``):
///   varint origin (string index)   varint sequence   32 bytes hash   u8 proof (0: origin signature, 1: checkpoint mark)
///   [proof 0: varint length + signature]
/// varint   checkpoint length (0: none), then the ``ChainCheckpoint`` encoding
/// ```
///
/// Versions 2 to 4, written by older nodes and still read during a rolling upgrade, spell each operation out field
/// by field instead of its body, with every repeated text (SKUs, warehouses, users, reasons) in the string table:
/// ```
///   varint origin (string index)     zigzag sequence delta from the previous operation of the same origin
///   zigzag   timestamp delta from the previous operation
///   u8 kind (index in OperationKind.allCases)   varint sku (string index)   u8 flags
///   [16 bytes movement UUID | varint string index]    (flags: has id, id is a UUID)
///   [varint warehouse]  zigzag delta  [varint increments, varint decrements]
///   [transfer: u8 form, 16-byte id or string index, from, to, varint shipped+1, varint accepted+1]
///   [varint length + JSON product patch, varint length + JSON causal context (0: none)]
///   varint actor   [varint reason]   [varint reference]
/// ```
/// Version 3 adds, per operation, the transfer's returned quantity and line flag and a transfer back (as a row body
/// of version 2); version 4 adds the document after the transfer back (as a row body of version 3). A version-1
/// page (before origin proofs) is refused.
///
/// A reader refuses any other version, a truncated batch, an index outside the string table, a body that does not
/// decode, a sequence outside `1...LedgerOperation.maxSequence` or a timestamp above
/// ``LedgerOperation/maxTimestamp``, with an error and never a crash: a batch may come from a hostile peer.
public enum LedgerOperationCodec {
    /// The version this node writes: operations as stored row bodies.
    public static let version: UInt8 = 5
    /// The oldest version this node reads (1 lacked the proofs of origins).
    public static let oldestReadVersion: UInt8 = 2
    /// The first version whose transfers carry their returned quantity and line flag, and a transfer back.
    static let transferLinesVersion: UInt8 = 3
    /// The first version whose operations carry their document.
    static let documentsVersion: UInt8 = 4
    /// The first version that carries operations as their origins' row bodies.
    static let rowBodiesVersion: UInt8 = 5

    /// Whether this node reads batches of `version`.
    public static func reads(_ version: UInt8) -> Bool { (oldestReadVersion...self.version).contains(version) }

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

    /// Encodes `operations`, each as the row body its origin stores, and the proofs of their origins.
    public static func encode(_ operations: [LedgerOperation], proofs: PageProofs = PageProofs()) throws -> [UInt8] {
        encode(try StoredRows(operations), proofs: proofs)
    }

    /// Encodes ledger rows as they are stored, and the proofs of their origins: the page a node sends.
    public static func encode(_ rows: StoredRows, proofs: PageProofs = PageProofs()) -> [UInt8] {
        var strings: [String] = []
        var index: [ReplicaID: UInt64] = [:]
        func intern(_ origin: ReplicaID) -> UInt64 {
            if let existing = index[origin] { return existing }
            index[origin] = UInt64(strings.count)
            strings.append(origin.rawValue)
            return UInt64(strings.count - 1)
        }
        // Origins come in runs (a page holds each origin's operations together): one lookup per run.
        var runs: [(index: UInt64, length: Int)] = []
        var previous: ReplicaID?
        for key in rows.keys {
            if key.origin == previous {
                runs[runs.count - 1].length += 1
            } else {
                runs.append((intern(key.origin), 1))
                previous = key.origin
            }
        }
        let headOrigins = proofs.heads.map { intern($0.origin) }
        var out = ByteWriter(format: version)
        out.reserveCapacity(16 + rows.count * 8 + (rows.count == 0 ? 0 : rows.body(at: 0).count * rows.count))
        out.varint(UInt64(strings.count))
        for text in strings { out.text(text) }
        out.varint(UInt64(rows.count))
        var lastSequence = [UInt64](repeating: 0, count: strings.count)
        var position = 0
        for run in runs {
            for _ in 0..<run.length {
                let sequence = rows.keys[position].sequence
                out.varint(run.index)
                out.zigzag(Int64(bitPattern: sequence &- lastSequence[Int(run.index)]))
                lastSequence[Int(run.index)] = sequence
                let body = rows.body(at: position)
                out.varint(UInt64(body.count))
                out.append(body)
                position += 1
            }
        }
        out.varint(UInt64(proofs.heads.count))
        for (head, origin) in zip(proofs.heads, headOrigins) {
            out.varint(origin)
            out.varint(head.sequence)
            out.append(head.hash.bytes)
            switch head.proof {
            case .origin(let signature):
                out.byte(0)
                out.blob(signature)
            case .checkpoint:
                out.byte(1)
            }
        }
        out.blob(proofs.checkpoint?.encoded() ?? [])
        return out.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(StoreError) -> [LedgerOperation] {
        try decodeWithProofs(bytes).operations
    }

    /// Decodes a batch and the proofs it carries.
    public static func decodeWithProofs(_ bytes: [UInt8]) throws(StoreError) -> (operations: [LedgerOperation], proofs: PageProofs) {
        var operations: [LedgerOperation] = []
        var bodies = EncodedBodies()
        let proofs = try decode(bytes, from: 0, into: &operations, bodies: &bodies)
        return (operations, proofs)
    }

    /// Decodes the batch that starts at `bytes[start]` into `operations` and, from version 5 on, the row bodies
    /// that carried them into `bodies` (by position; a batch of an older version leaves `bodies` empty), replacing
    /// what they held. A writer passes the same buffers for every page: their storage (tens of megabytes for a
    /// page) is reused once the previous page's operations are released.
    @discardableResult
    static func decode(
        _ bytes: [UInt8], from start: Int, into operations: inout [LedgerOperation], bodies: inout EncodedBodies
    ) throws(StoreError) -> PageProofs {
        operations.removeAll(keepingCapacity: true)
        bodies.removeAll()
        guard start < bytes.count else { throw .invalidOperation("empty operation batch") }
        let first = bytes[start]
        guard reads(first) else { throw .invalidOperation("unsupported operation batch version \(first)") }
        let version = first
        var reader = ByteReader(bytes, offset: start + 1)
        let stringCount = try reader.count(limit: bytes.count)
        var strings: [String] = []
        strings.reserveCapacity(stringCount)
        for _ in 0..<stringCount {
            guard let text = UTF8Text.validated(try reader.blob()) else { throw .invalidOperation("invalid UTF-8 in batch") }
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
        if version >= rowBodiesVersion { bodies.reserve(operations.capacity) }
        var repeated = LedgerRowBody.RepeatedTexts()
        for _ in 0..<count {
            let originIndex = try reader.count(limit: strings.count - 1)
            let origin = try replica(at: originIndex)
            let sequence = lastSequence[originSlot[originIndex]] &+ UInt64(bitPattern: try reader.zigzag())
            guard sequence >= 1, sequence <= LedgerOperation.maxSequence else {
                throw .invalidOperation("sequence \(sequence) of \(origin) is outside 1...\(LedgerOperation.maxSequence)")
            }
            lastSequence[originSlot[originIndex]] = sequence
            if version >= rowBodiesVersion {
                let body = try reader.blob()
                let op: LedgerOperation
                do {
                    op = try body.withUnsafeBytes {
                        try LedgerRowBody.decode(origin: origin, sequence: sequence, body: $0, repeated: &repeated)
                    }
                } catch {
                    throw .invalidOperation("bad body of operation \(origin):\(sequence): \(error)")
                }
                guard op.timestamp.rawValue <= LedgerOperation.maxTimestamp else {
                    throw .invalidOperation("timestamp \(op.timestamp.rawValue) of \(origin):\(sequence) is out of range")
                }
                operations.append(consume op)
                bodies.append(body)
                bodies.endOperation()
                continue
            }
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
