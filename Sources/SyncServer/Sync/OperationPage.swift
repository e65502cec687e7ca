import CRDT
import CompressNIO
import Foundation
import NIOCore
import Store

/// The wire form of a page of ledger operations, as peers exchange them: a ``LedgerOperationCodec`` batch (each
/// operation's row body as its origin stores it, then per origin the newest head the page covers; see there for
/// the layout), deflated.
///
/// The same codec carries merges to the node's writer: the inflated page is decoded once, from its bodies, before it
/// is queued (``NodeStore/queueMerge(encoded:)``), and the writer hashes and stores each body as it is. A reader
/// refuses another version, a truncated or corrupted page, or a page that inflates beyond ``maxInflatedBytes``.
public enum OperationPage {
    public static var version: UInt8 { LedgerOperationCodec.version }
    /// The most bytes a page may inflate to (bounded memory on the receiving side).
    public static let maxInflatedBytes = 64 << 20

    public enum Failure: Error, CustomStringConvertible {
        case unsupportedVersion(UInt8)
        case malformed(String)

        public var description: String {
            switch self {
            case .unsupportedVersion(let version) where version < LedgerOperationCodec.oldestReadVersion:
                "operation page version \(version) is not supported: its operations carry no proof of their origin"
                    + " (this node reads versions \(LedgerOperationCodec.oldestReadVersion) to \(LedgerOperationCodec.version));"
                    + " upgrade the node that sent it"
            case .unsupportedVersion(let version): "unsupported operation page version \(version)"
            case .malformed(let why): "malformed operation page: \(why)"
            }
        }
    }

    /// Deflate at its fastest level: the default level shrinks a catch-up page only a little more while costing
    /// the serving node about a third of its CPU per operation.
    static let compression = CompressionAlgorithm.deflate(configuration: .init(compressionLevel: 1))

    /// Encodes and compresses operations and the proofs of their origins.
    public static func encode(_ operations: [LedgerOperation], proofs: PageProofs = PageProofs()) throws -> ByteBuffer {
        var raw = ByteBuffer(bytes: try LedgerOperationCodec.encode(operations, proofs: proofs))
        return try raw.compress(with: compression)
    }

    /// The page of what `vector` lacks that this node can prove (``LedgerReader/provenRowsMissing(from:limit:)``),
    /// at most about `limit` operations and encoded within `maxBytes` (fewer operations are asked for when it is
    /// not, in proportion, so the page is still cut at heads). `sent`: the dots of the operations it carries.
    ///
    /// A page is bounded by a count of operations, but texts make operations of very different sizes (a product
    /// description may take 8 KB): 20,000 large ones would inflate past ``maxInflatedBytes`` and be refused every
    /// time they were sent, stalling sync. A page cannot be cut closer than its origins' heads allow: an origin
    /// signs at least every 1,000 operations, which fit the bound. `origins`: only those origins' operations
    /// (`nil`: all).
    public static func encodeProven(
        from reader: LedgerReader, missingFrom vector: VersionVector, limit: Int, maxBytes: Int = maxEncodedBytes,
        origins: Set<ReplicaID>? = nil
    ) throws -> (page: ByteBuffer, sent: [Dot], more: Bool) {
        var limit = limit
        while true {
            let batch = try reader.provenRowsMissing(from: vector, limit: limit, origins: origins)
            let encoded = LedgerOperationCodec.encode(batch.rows, proofs: batch.proofs)
            // More operations than asked for: the batch runs on to an origin's first head, and asking for fewer
            // would not shorten it.
            if encoded.count <= maxBytes || limit <= 1 || batch.rows.count > limit {
                var raw = ByteBuffer(bytes: encoded)
                return (try raw.compress(with: compression), batch.rows.dots, batch.more)
            }
            limit = min(limit - 1, max(1, Int(Double(batch.rows.count) * Double(maxBytes) / Double(encoded.count) * 0.9)))
        }
    }

    /// The most bytes a page is encoded to before compression: under half of what a reader inflates, and under the
    /// 32 MiB a push body may carry even if deflate cannot shrink it, so every page a node sends is one its peer
    /// accepts.
    public static let maxEncodedBytes = 30 << 20

    /// Inflates and decodes a page.
    public static func decode(_ compressed: ByteBuffer) throws -> [LedgerOperation] {
        try decodeKeepingBytes(compressed).operations
    }

    /// Inflates a page into ``LedgerOperationCodec`` bytes of a supported version, without decoding them.
    public static func inflate(_ compressed: ByteBuffer) throws -> [UInt8] {
        var input = compressed
        let page: ByteBuffer
        do { page = try input.decompress(with: .deflate(), maxSize: maxInflatedBytes) } catch {
            throw Failure.malformed("cannot inflate: \(error)")
        }
        let bytes = Array(page.readableBytesView)
        guard let first = bytes.first else { throw Failure.malformed("empty") }
        guard LedgerOperationCodec.reads(first) else { throw Failure.unsupportedVersion(first) }
        return bytes
    }

    /// The `x-inv-highest` value for a page: `origin:sequence` pairs, comma-separated, sorted by origin (empty
    /// for an empty page).
    public static func highestHeaderValue(_ dots: some Sequence<Dot>) -> String {
        highest(of: dots).sorted { $0.key < $1.key }.map { "\($0.key.rawValue):\($0.value)" }.joined(separator: ",")
    }

    /// The highest sequence per origin among `dots`.
    public static func highest(of dots: some Sequence<Dot>) -> [ReplicaID: UInt64] {
        var highest: [ReplicaID: UInt64] = [:]
        // Pages hold each origin's operations together: the dictionary is touched once per run of an origin.
        var run: (origin: ReplicaID, highest: UInt64)?
        for dot in dots {
            if dot.origin == run?.origin {
                run!.highest = max(run!.highest, dot.sequence)
                continue
            }
            if let run, run.highest > highest[run.origin] ?? 0 { highest[run.origin] = run.highest }
            run = (dot.origin, max(dot.sequence, highest[dot.origin] ?? 0))
        }
        if let run, run.highest > highest[run.origin] ?? 0 { highest[run.origin] = run.highest }
        return highest
    }

    /// Parses an `x-inv-highest` value; `nil` when any part is malformed or a sequence is out of range (the caller
    /// then decodes the page, whose decoder refuses what is wrong in it).
    public static func highest(fromHeader value: String) -> [ReplicaID: UInt64]? {
        var highest: [ReplicaID: UInt64] = [:]
        for pair in value.split(separator: ",", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: ":")
            guard parts.count == 2, let sequence = UInt64(parts[1]), sequence > 0, sequence <= LedgerOperation.maxSequence,
                  let origin = try? ReplicaID(String(parts[0])), highest[origin] == nil
            else { return nil }
            highest[origin] = sequence
        }
        return highest
    }

    /// Inflates and decodes a page, also returning the inflated ``LedgerOperationCodec`` bytes, which the writer
    /// takes as they are (``NodeStore/submitMerge(encoded:)``).
    public static func decodeKeepingBytes(_ compressed: ByteBuffer) throws -> (operations: [LedgerOperation], encoded: [UInt8]) {
        let bytes = try inflate(compressed)
        do { return (try LedgerOperationCodec.decode(bytes), bytes) } catch { throw Failure.malformed(error.description) }
    }
}
