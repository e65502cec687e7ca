import CRDT
// swift-crypto 3.12 does not yet mark its keys Sendable; they are immutable.
@preconcurrency import Crypto
import Foundation
@testable import Store
import Testing

/// The origin chain and the rule every receiver applies to a batch (`ChainVerifier`), without a store.
@Suite("Origin chains and their verifier")
struct ChainVerifierTests {
    static let origin = rid("W1")
    let key = P256.Signing.PrivateKey()
    let ca = P256.Signing.PrivateKey()

    /// `count` receipts of origin `origin`, sequences `first...`, each carrying its cumulative counter entry.
    static func receipts(_ origin: ReplicaID = origin, from first: UInt64 = 1, count: Int) -> [LedgerOperation] {
        (0..<UInt64(count)).map { offset in
            let sequence = first + offset
            return LedgerOperation(
                origin: origin, sequence: sequence, timestamp: HLCTimestamp(rawValue: 1_000_000 + sequence), kind: .receive,
                sku: sku("SKU-1"), movementID: "0190a1b2-c3d4-7e5f-8a9b-\(String(format: "%012d", sequence))", warehouse: origin,
                delta: 2, counter: PNCounter.Entry(increments: 2 * sequence, decrements: 0), actor: "clerk", reason: "delivery")
        }
    }

    /// The chain of `operations` from genesis (or `start`).
    static func chain(_ operations: [LedgerOperation], from start: ChainTip? = nil) throws -> ChainTip {
        var tip = start ?? .genesis(of: operations[0].origin)
        for op in operations {
            tip = ChainTip(sequence: op.sequence, hash: OriginChain.extend(tip.hash, sequence: op.sequence, body: try rowBody(op)))
        }
        return tip
    }

    /// The stored row body of `op`: what the chain hashes.
    static func rowBody(_ op: LedgerOperation) throws -> [UInt8] { try LedgerRowBody.encode(op) }

    func verify(
        _ operations: [LedgerOperation], _ proofs: PageProofs, tip: ChainTip? = nil, keys: [P256.Signing.PublicKey]? = nil
    ) throws -> ChainVerifier.Verdict {
        try ChainVerifier.verify(
            operations, proofs: proofs, tip: { tip ?? .genesis(of: $0) }, keys: { _ in keys ?? [key.publicKey] },
            checkpointIsValid: { proofs.checkpoint?.isSigned(by: ca.publicKey) ?? false })
    }

    @Test("the chain depends on the origin, every byte of every body and the order")
    func chainIsPositional() throws {
        let ops = Self.receipts(count: 3)
        #expect(OriginChain.genesis(of: rid("W1")) != OriginChain.genesis(of: rid("W2")))
        let whole = try Self.chain(ops)
        #expect(try Self.chain(ops) == whole)
        var changed = ops
        changed[1].reason = "deliverz"
        #expect(try Self.chain(changed).hash != whole.hash)
        let body = try Self.rowBody(ops[0])
        for index in body.indices {
            var flipped = body
            flipped[index] ^= 0x01
            #expect(OriginChain.extend(OriginChain.genesis(of: Self.origin), sequence: 1, body: flipped)
                != OriginChain.extend(OriginChain.genesis(of: Self.origin), sequence: 1, body: body))
        }
    }

    @Test("a head signed by the origin covers everything up to it, and nothing beyond")
    func signedHeadCovers() throws {
        let ops = Self.receipts(count: 10)
        let head = try SignedHead.signed(origin: Self.origin, tip: try Self.chain(Array(ops[..<7])), key: key)
        let verdict = try verify(ops, PageProofs(heads: [head]))
        #expect(verdict.covered[Self.origin]?.sequence == 7)
        #expect(ops.filter(verdict.covers).map(\.sequence) == Array(1...7))
        #expect(verdict.failures[Self.origin] == .beyondHead(head: 7, last: 10))
        #expect(verdict.failures[Self.origin]?.isForgery == false)
    }

    @Test("from a tip: the chain continues from the receiver's hash; operations at or below it are duplicates")
    func fromTip() throws {
        let ops = Self.receipts(count: 6)
        let tip = try Self.chain(Array(ops[..<3]))
        let head = try SignedHead.signed(origin: Self.origin, tip: try Self.chain(ops), key: key)
        let verdict = try verify(ops, PageProofs(heads: [head]), tip: tip)
        #expect(verdict.covered[Self.origin]?.sequence == 6)
        #expect(verdict.failures.isEmpty)
        // The same operations from a wrong tip do not reach the head's hash.
        let wrongTip = ChainTip(sequence: 3, hash: OriginChain.genesis(of: rid("W9")))
        #expect(try verify(Array(ops[3...]), PageProofs(heads: [head]), tip: wrongTip).failures[Self.origin] == .hashMismatch(at: 6))
    }

    @Test("a tampered operation breaks the hash; a forged head fails the signature; both are forgeries")
    func forgeries() throws {
        let ops = Self.receipts(count: 5)
        let head = try SignedHead.signed(origin: Self.origin, tip: try Self.chain(ops), key: key)
        var tampered = ops
        tampered[2].delta = 200
        tampered[2].counter = PNCounter.Entry(increments: 206, decrements: 0)
        let verdict = try verify(tampered, PageProofs(heads: [head]))
        #expect(verdict.covered.isEmpty)
        #expect(verdict.failures[Self.origin] == .hashMismatch(at: 5))
        #expect(verdict.failures[Self.origin]?.isForgery == true)

        // Another member's key signing a chain of its own making for this origin.
        let forger = P256.Signing.PrivateKey()
        let forged = try SignedHead.signed(origin: Self.origin, tip: try Self.chain(tampered), key: forger)
        let refused = try verify(tampered, PageProofs(heads: [forged]))
        #expect(refused.failures[Self.origin] == .badSignature(at: 5))
        #expect(refused.failures[Self.origin]?.isForgery == true)
        // Signed by a superseded key of the origin: still its own.
        let old = P256.Signing.PrivateKey()
        let rotated = try SignedHead.signed(origin: Self.origin, tip: try Self.chain(ops), key: old)
        #expect(try verify(ops, PageProofs(heads: [rotated]), keys: [key.publicKey, old.publicKey]).covered[Self.origin]?.sequence == 5)
        // No key known at all.
        #expect(try verify(ops, PageProofs(heads: [head]), keys: []).failures[Self.origin] == .unknownOrigin)
    }

    @Test("a missing operation, a missing head, or a head beyond the batch covers nothing")
    func incomplete() throws {
        let ops = Self.receipts(count: 6)
        let head = try SignedHead.signed(origin: Self.origin, tip: try Self.chain(ops), key: key)
        var gap = ops
        gap.remove(at: 2)
        #expect(try verify(gap, PageProofs(heads: [head])).failures[Self.origin] == .gap(expected: 3, found: 4))
        #expect(try verify(ops, PageProofs()).failures[Self.origin] == .noHead)
        #expect(try verify(Array(ops[..<4]), PageProofs(heads: [head])).failures[Self.origin] == .headBeyondBatch(head: 6, last: 4))
        // A replay of operations the receiver holds: nothing to cover, nothing reported.
        let verdict = try verify(ops, PageProofs(heads: [head]), tip: try Self.chain(ops))
        #expect(verdict.covered.isEmpty && verdict.failures.isEmpty)
    }

    @Test("a checkpoint mark signed by the cluster CA covers a legacy chain; another key's checkpoint does not")
    func checkpoint() throws {
        let ops = Self.receipts(count: 4)
        let tip = try Self.chain(ops)
        let marks = [Self.origin: [ChainCheckpoint.Mark(sequence: 4, hash: tip.hash)]]
        let head = SignedHead(origin: Self.origin, sequence: 4, hash: tip.hash, proof: .checkpoint)
        let good = try ChainCheckpoint.signed(marks: marks, caKey: ca)
        #expect(try verify(ops, PageProofs(heads: [head], checkpoint: good)).covered[Self.origin]?.sequence == 4)
        #expect(try ChainCheckpoint(decoding: good.encoded()) == good)
        let forged = try ChainCheckpoint.signed(marks: marks, caKey: key)
        #expect(try verify(ops, PageProofs(heads: [head], checkpoint: forged)).failures[Self.origin] == .badCheckpoint(at: 4))
        #expect(try verify(ops, PageProofs(heads: [head])).failures[Self.origin] == .badCheckpoint(at: 4))
    }

    @Test("every single-byte change of a batch's encoding is refused by the decoder or by the verifier")
    func everyTamperedByteIsDetected() throws {
        let ops = Self.receipts(count: 4) + Self.receipts(rid("W2"), count: 3)
        let second = P256.Signing.PrivateKey()
        let proofs = PageProofs(heads: [
            try SignedHead.signed(origin: Self.origin, tip: try Self.chain(Array(ops[..<4])), key: key),
            try SignedHead.signed(origin: rid("W2"), tip: try Self.chain(Array(ops[4...])), key: second),
        ])
        let encoded = try LedgerOperationCodec.encode(ops, proofs: proofs)
        let keys = [Self.origin: [key.publicKey], rid("W2"): [second.publicKey]]
        var decodedChanged = 0
        for index in encoded.indices.dropFirst() {
            for mask: UInt8 in [0x01, 0x80] {
                var bytes = encoded
                bytes[index] ^= mask
                guard let (changed, changedProofs) = try? LedgerOperationCodec.decodeWithProofs(bytes), changed != ops || changedProofs != proofs
                else { continue }
                decodedChanged += 1
                let verdict = try ChainVerifier.verify(
                    changed, proofs: changedProofs, tip: { .genesis(of: $0) }, keys: { keys[$0] ?? [] }, checkpointIsValid: { false })
                // Whatever is still covered is exactly an operation that was sent.
                for op in changed where verdict.covers(op) {
                    #expect(ops.contains(op), "byte \(index) mask \(mask): changed operation \(op.origin):\(op.sequence) passed")
                }
            }
        }
        #expect(decodedChanged > 0)
    }
}
