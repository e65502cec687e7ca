import CRDT
// swift-crypto 3.12 does not yet mark its keys Sendable; they are immutable.
@preconcurrency import Crypto

/// The hash chain each origin keeps over its operations, so that one signature proves everything before it.
///
/// The hash after operation `n` of origin `o` is `SHA-256(hash(n - 1) ‖ n as 8 bytes big-endian ‖ body(n))`, where
/// `body(n)` is the operation's ``LedgerRowBody`` (the stored row, recomputed by a receiver from the operation it
/// decoded, never sent) and `hash(0)` is `SHA-256("inv chain v1" ‖ 0 ‖ o)`. Every field of an operation but its dot
/// is in its body, and its dot is in the chain's position and genesis, so changing any byte of any operation, or
/// leaving one out, changes every hash after it.
///
/// Pure: no I/O, no clock.
public enum OriginChain {
    /// The hash before an origin's first operation.
    public static func genesis(of origin: ReplicaID) -> ChainHash {
        var hasher = SHA256()
        hasher.update(data: Array("inv chain v1".utf8) + [0] + Array(origin.rawValue.utf8))
        return ChainHash(hasher.finalize())
    }

    /// The hash after the operation `sequence` whose row body is `body`, `previous` being the hash before it.
    public static func extend(_ previous: ChainHash, sequence: UInt64, body: UnsafeRawBufferPointer) -> ChainHash {
        var hasher = SHA256()
        previous.bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        withUnsafeBytes(of: sequence.bigEndian) { hasher.update(bufferPointer: $0) }
        hasher.update(bufferPointer: body)
        return ChainHash(hasher.finalize())
    }

    public static func extend(_ previous: ChainHash, sequence: UInt64, body: [UInt8]) -> ChainHash {
        body.withUnsafeBytes { extend(previous, sequence: sequence, body: $0) }
    }
}

/// A chain being extended operation by operation, its hash kept as a digest (no allocation per operation).
struct RunningChain {
    private var digest: SHA256.Digest?
    private let start: ChainHash

    init(from hash: ChainHash) { start = hash }

    mutating func extend(sequence: UInt64, body: UnsafeRawBufferPointer) {
        var hasher = SHA256()
        if let digest { digest.withUnsafeBytes { hasher.update(bufferPointer: $0) } } else {
            start.bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        }
        withUnsafeBytes(of: sequence.bigEndian) { hasher.update(bufferPointer: $0) }
        hasher.update(bufferPointer: body)
        digest = hasher.finalize()
    }

    var hash: ChainHash { digest.map(ChainHash.init) ?? start }
}

/// A 32-byte SHA-256 hash of an origin's chain.
public struct ChainHash: Hashable, Codable, Sendable, CustomStringConvertible {
    public static let size = 32
    public let bytes: [UInt8]

    /// - Returns: `nil` unless `bytes` holds exactly 32 bytes.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.size else { return nil }
        self.bytes = Array(bytes)
    }

    init(_ digest: SHA256.Digest) { bytes = Array(digest) }

    /// The first 8 bytes in hex, for logs.
    public var description: String { bytes.prefix(8).map { String($0, radix: 16).leftPadded(to: 2) }.joined() }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}

/// Where an origin's chain stands on a node: the hash after its operation `sequence` (0 and the genesis hash before
/// any).
public struct ChainTip: Hashable, Sendable {
    public var sequence: UInt64
    public var hash: ChainHash

    public init(sequence: UInt64, hash: ChainHash) {
        self.sequence = sequence
        self.hash = hash
    }

    public static func genesis(of origin: ReplicaID) -> ChainTip { ChainTip(sequence: 0, hash: OriginChain.genesis(of: origin)) }
}
