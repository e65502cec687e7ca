import CRDT
// swift-crypto 3.12 does not yet mark its keys Sendable; they are immutable.
@preconcurrency import Crypto

/// Decides which operations of a batch their origins proved: the rule every receiver applies before merging,
/// whoever forwarded the batch.
///
/// The rule: an operation of origin `o` is covered when the batch holds every operation of `o` from the receiver's
/// chain tip up to it and on to a head the batch carries for `o`, the hashes recomputed from the operations
/// (``OriginChain``) reach that head's hash exactly, and the head is proven — signed by one of `o`'s certified keys,
/// or a mark of a checkpoint signed by the cluster CA. Anything else is not covered and must not be applied: a
/// forged operation (no key of `o` signed a chain through it), a tampered one (one changed byte changes the hash),
/// one beyond a gap or beyond the newest head. A replayed operation is at or below the tip: a duplicate.
///
/// Why one signature per origin per batch suffices: a head signs the hash of the whole chain before it, and SHA-256
/// makes a second chain reaching the same hash infeasible to find.
///
/// Pure: the caller passes the tips, keys and checkpoint check; nothing here reads the store or a clock.
public struct ChainVerifier {
    /// Why an origin's operations in a batch are not covered.
    public enum Failure: Hashable, Sendable, CustomStringConvertible {
        /// The batch carries no head for the origin, or none beyond the receiver's tip.
        case noHead
        /// The operations do not continue the receiver's chain without a gap up to the head.
        case gap(expected: UInt64, found: UInt64)
        /// The head lies beyond the operations the batch carries.
        case headBeyondBatch(head: UInt64, last: UInt64)
        /// Operations after the covering head, up to `last`, are not covered yet.
        case beyondHead(head: UInt64, last: UInt64)
        /// The recomputed hash differs from the head's: an operation was changed, added or left out.
        case hashMismatch(at: UInt64)
        /// No certified key of the origin signed the head.
        case badSignature(at: UInt64)
        /// The receiver knows no certificate of the origin.
        case unknownOrigin
        /// The head names a checkpoint mark that the batch's checkpoint does not hold, or the checkpoint is not
        /// signed by the cluster CA.
        case badCheckpoint(at: UInt64)

        /// Whether the batch claims something false (as opposed to proving too little): its forwarder sent a forged
        /// or tampered operation, or a forged head.
        public var isForgery: Bool {
            switch self {
            case .hashMismatch, .badSignature, .badCheckpoint: true
            case .noHead, .gap, .headBeyondBatch, .beyondHead, .unknownOrigin: false
            }
        }

        public var description: String {
            switch self {
            case .noHead: "the page carries no signed head of it"
            case let .gap(expected, found): "its operations skip from \(expected) to \(found)"
            case let .headBeyondBatch(head, last): "its head \(head) lies beyond the page's last operation \(last)"
            case let .beyondHead(head, last): "its operations after \(head) up to \(last) carry no head yet"
            case .hashMismatch(let sequence): "the chain hash at \(sequence) does not match the signed head (tampered or forged)"
            case .badSignature(let sequence): "its head at \(sequence) is not signed by its certified key (forged)"
            case .unknownOrigin: "no certificate of it is known here yet"
            case .badCheckpoint(let sequence): "its checkpoint mark at \(sequence) is not in a checkpoint signed by the cluster CA"
            }
        }
    }

    /// What a batch proves, per origin.
    public struct Verdict: Sendable {
        /// Per origin: the head up to which its operations are covered (its hash is the chain's there).
        public var covered: [ReplicaID: SignedHead] = [:]
        /// Per origin with operations beyond its tip that are not covered: why.
        public var failures: [ReplicaID: Failure] = [:]
        /// The row bodies the chain was computed over, by position in the batch: the writer stores them as they are
        /// rather than encoding each operation a second time. The received bodies themselves (not a copy) when the
        /// batch carried every operation's; else encoded here, empty for operations not hashed.
        var bodies = EncodedBodies()

        /// Whether `op` (above its origin's tip) is covered.
        public func covers(_ op: LedgerOperation) -> Bool { op.sequence <= covered[op.origin]?.sequence ?? 0 }
    }

    /// Checks a batch.
    ///
    /// - Parameters:
    ///   - operations: the batch, in its order (each origin's operations in increasing sequence order, as pages are).
    ///   - proofs: the heads (and checkpoint) the batch carries.
    ///   - tip: where each origin's chain stands on the receiver.
    ///   - keys: each origin's certified public keys.
    ///   - checkpointIsValid: whether `proofs.checkpoint` is signed by the cluster CA (asked only when a head needs it).
    ///   - receivedBodies: the row bodies that carried the operations, by position, when the batch carried them
    ///     (pages of version 5): the chain is computed over these bytes, as the origin signed them. Otherwise each
    ///     operation's body is encoded here.
    ///   - skip: origins not to check (the receiver's own, whose operations it made).
    /// - Complexity: one SHA-256 (and, without received bodies, one row-body encoding) per operation above its tip;
    ///   one signature check per origin.
    public static func verify(
        _ operations: [LedgerOperation], proofs: PageProofs, receivedBodies: EncodedBodies = EncodedBodies(),
        tip: (ReplicaID) throws -> ChainTip,
        keys: (ReplicaID) throws -> [P256.Signing.PublicKey], checkpointIsValid: () throws -> Bool,
        skip: (ReplicaID) -> Bool = { _ in false }
    ) throws -> Verdict {
        var verdict = Verdict()
        // Per origin: the tip, the running chain, and the hash at the head's sequence once reached.
        struct Walk {
            var tip: UInt64
            var next: UInt64
            var chain: RunningChain
            var head: UInt64?
            var broken: Failure?
            var hashAtHead: ChainHash?
            var last: UInt64
        }
        var heads: [ReplicaID: SignedHead] = [:]
        for head in proofs.heads where heads[head.origin] == nil { heads[head.origin] = head }
        var walks: [ReplicaID: Walk] = [:]
        var buffer = ByteWriter(format: LedgerRowBody.version)
        // Pages hold each origin's operations together: the walk of the current origin stays out of the dictionary.
        var current: (origin: ReplicaID, walk: Walk)?
        let received = receivedBodies.count == operations.count ? receivedBodies : nil
        if let received { verdict.bodies = received } else { verdict.bodies.reserve(operations.count) }
        // By index, not `for op in`: binding each operation would copy (retain) all of its fields.
        for position in operations.indices {
            defer { if received == nil { verdict.bodies.endOperation() } }
            let origin = operations[position].origin
            let sequence = operations[position].sequence
            guard !skip(origin) else { continue }
            if current?.origin != origin {
                if let current { walks[current.origin] = current.walk }
                if let existing = walks[origin] {
                    current = (origin, existing)
                } else {
                    let start = try tip(origin)
                    current = (origin, Walk(
                        tip: start.sequence, next: start.sequence + 1, chain: RunningChain(from: start.hash),
                        head: heads[origin]?.sequence, last: start.sequence))
                }
            }
            guard current!.walk.broken == nil, sequence > current!.walk.tip else { continue }  // at or below the tip: a duplicate
            guard sequence == current!.walk.next else {
                current!.walk.broken = .gap(expected: current!.walk.next, found: sequence)
                continue
            }
            if let body = received?[position] {
                body.withUnsafeBytes { current!.walk.chain.extend(sequence: sequence, body: $0) }
            } else {
                try LedgerRowBody.encode(operations[position], into: &buffer)
                buffer.bytes.withUnsafeBytes { current!.walk.chain.extend(sequence: sequence, body: $0) }
                if received == nil { verdict.bodies.append(buffer.bytes) }
            }
            current!.walk.last = sequence
            current!.walk.next += 1
            if sequence == current!.walk.head { current!.walk.hashAtHead = current!.walk.chain.hash }
        }
        if let current { walks[current.origin] = current.walk }
        for (origin, walk) in walks {
            guard walk.last > walk.tip else {
                // Nothing continues the chain: a gap right after the tip, or only duplicates.
                if let broken = walk.broken { verdict.failures[origin] = broken }
                continue
            }
            guard let head = heads[origin], head.sequence > walk.tip else {
                verdict.failures[origin] = .noHead
                continue
            }
            guard let reached = walk.hashAtHead else {
                verdict.failures[origin] = walk.broken ?? .headBeyondBatch(head: head.sequence, last: walk.last)
                continue
            }
            guard reached == head.hash else {
                verdict.failures[origin] = .hashMismatch(at: head.sequence)
                continue
            }
            switch head.proof {
            case .origin:
                let known = try keys(origin)
                guard !known.isEmpty else {
                    verdict.failures[origin] = .unknownOrigin
                    continue
                }
                guard head.isSigned(byOneOf: known) else {
                    verdict.failures[origin] = .badSignature(at: head.sequence)
                    continue
                }
            case .checkpoint:
                guard let checkpoint = proofs.checkpoint, checkpoint.mark(of: origin, at: head.sequence)?.hash == head.hash,
                      try checkpointIsValid()
                else {
                    verdict.failures[origin] = .badCheckpoint(at: head.sequence)
                    continue
                }
            }
            verdict.covered[origin] = head
            // Operations past the head (or past a gap after it) are not covered: reported, not applied.
            if let broken = walk.broken {
                verdict.failures[origin] = broken
            } else if walk.last > head.sequence {
                verdict.failures[origin] = .beyondHead(head: head.sequence, last: walk.last)
            }
        }
        return verdict
    }
}
