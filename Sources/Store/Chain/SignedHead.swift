import CRDT
import Foundation
// swift-crypto 3.12 does not yet mark its keys Sendable; they are immutable.
@preconcurrency import Crypto

/// An origin's chain head and what proves it: the origin's own signature, or a mark of the cluster's checkpoint.
///
/// A head `(origin, sequence, hash)` signed by the origin's node key (the key its CA-signed certificate certifies)
/// proves, through the chain (``OriginChain``), every operation of that origin up to `sequence`. Origins sign their
/// head at each commit and at least every ``signingInterval`` operations within one; a page carries, per origin,
/// the newest head it covers, so a receiver checks one signature per origin per page.
public struct SignedHead: Hashable, Codable, Sendable {
    /// An origin signs its head at least this often, in operations.
    public static let signingInterval: UInt64 = 1_000

    public enum Proof: Hashable, Codable, Sendable {
        /// An ECDSA P-256 signature (raw `r ‖ s`) by the origin's node key over ``message``.
        case origin(signature: [UInt8])
        /// A mark of the checkpoint the page carries (``ChainCheckpoint``), signed by the cluster CA.
        case checkpoint
    }

    public var origin: ReplicaID
    public var sequence: UInt64
    public var hash: ChainHash
    public var proof: Proof

    public init(origin: ReplicaID, sequence: UInt64, hash: ChainHash, proof: Proof) {
        self.origin = origin
        self.sequence = sequence
        self.hash = hash
        self.proof = proof
    }

    /// The bytes an origin signs: a domain tag, the origin, the sequence and the hash.
    public static func message(origin: ReplicaID, sequence: UInt64, hash: ChainHash) -> [UInt8] {
        var message = Array("inv head v1".utf8) + [0] + Array(origin.rawValue.utf8) + [0]
        withUnsafeBytes(of: sequence.bigEndian) { message.append(contentsOf: $0) }
        return message + hash.bytes
    }

    /// Signs `origin`'s head with its node key.
    public static func signed(
        origin: ReplicaID, tip: ChainTip, key: P256.Signing.PrivateKey
    ) throws -> SignedHead {
        let signature = try key.signature(for: message(origin: origin, sequence: tip.sequence, hash: tip.hash))
        return SignedHead(origin: origin, sequence: tip.sequence, hash: tip.hash, proof: .origin(signature: Array(signature.rawRepresentation)))
    }

    /// Whether one of `keys` (the origin's certified keys, current and superseded) signed this head.
    public func isSigned(byOneOf keys: [P256.Signing.PublicKey]) -> Bool {
        guard case .origin(let raw) = proof, let signature = try? P256.Signing.ECDSASignature(rawRepresentation: raw) else {
            return false
        }
        let message = Self.message(origin: origin, sequence: sequence, hash: hash)
        return keys.contains { $0.isValidSignature(signature, for: message) }
    }
}

/// What a page or batch carries besides its operations: per origin, the newest head it covers, and the checkpoint
/// when a head is one of its marks.
public struct PageProofs: Hashable, Codable, Sendable {
    public var heads: [SignedHead]
    public var checkpoint: ChainCheckpoint?

    public init(heads: [SignedHead] = [], checkpoint: ChainCheckpoint? = nil) {
        self.heads = heads
        self.checkpoint = checkpoint
    }
}
