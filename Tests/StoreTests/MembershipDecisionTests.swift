import CRDT
// swift-crypto 3.12 does not yet mark its keys Sendable; they are immutable.
@preconcurrency import Crypto
import Foundation
import Store
import Testing

/// Retirements and re-admissions signed with the cluster CA key: applied only when signed, the newest per warehouse
/// winning in any order of arrival; a node that learns its own retirement refuses local writes.
@Suite("Membership decisions signed by the cluster CA")
struct MembershipDecisionTests {
    static func decision(
        _ warehouse: String, retired: Bool, at milliseconds: UInt64, by ca: P256.Signing.PrivateKey
    ) throws -> MembershipDecision {
        try MembershipDecision.signed(
            warehouse: warehouse, retired: retired, timestamp: HLCTimestamp(physicalMilliseconds: milliseconds, logical: 0),
            actor: "admin", issuer: "MAD", caKey: ca)
    }

    static func open(_ name: String, ca: P256.Signing.PrivateKey, in directory: TemporaryDirectory) async throws -> NodeStore {
        var options = NodeStore.Options()
        options.writer.clusterKey = ca.publicKey
        let store = try NodeStore(path: directory.file("\(name).sqlite"), replica: rid(name), options: options)
        for member in ["MAD", "SEV", "BIO"] {
            _ = try await store.submit(.setMember(warehouse: member, peerURL: "https://127.0.0.1:9", retired: false))
        }
        return store
    }

    static func retired(_ store: NodeStore) throws -> [String: Bool] {
        Dictionary(try store.reader.members().map { ($0.warehouse, $0.retired) }) { a, _ in a }
    }

    @Test("unsigned, wrongly signed or altered decisions change nothing")
    func onlySignedDecisionsApply() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let ca = P256.Signing.PrivateKey()
        let store = try await Self.open("MAD", ca: ca, in: directory)
        defer { store.close() }
        let before = try Self.retired(store)
        var altered = try Self.decision("SEV", retired: false, at: 1_000, by: ca)
        altered.retired = true
        var renamed = try Self.decision("SEV", retired: true, at: 1_000, by: ca)
        renamed.warehouse = "BIO"
        let forged = [
            try Self.decision("SEV", retired: true, at: 1_000, by: P256.Signing.PrivateKey()),
            MembershipDecision(
                warehouse: "SEV", retired: true, timestamp: HLCTimestamp(physicalMilliseconds: 1_000, logical: 0), actor: "x",
                issuer: "MAD", signature: []),
            altered, renamed,
        ]
        guard case .members(let changed) = try await store.submit(.decideMembership(forged)) else {
            Issue.record("unexpected outcome")
            return
        }
        #expect(changed.isEmpty)
        #expect(try Self.retired(store) == before)
        #expect(try store.reader.membershipDecisions().isEmpty)
    }

    @Test("the newest decision per warehouse wins, in any order of arrival; the same bytes travel on")
    func newestWinsInAnyOrder() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let ca = P256.Signing.PrivateKey()
        let decisions = [
            try Self.decision("SEV", retired: true, at: 1_000, by: ca),
            try Self.decision("SEV", retired: false, at: 2_000, by: ca),
            try Self.decision("BIO", retired: true, at: 1_500, by: ca),
        ]
        var states: [[String: Bool]] = []
        var held: [[MembershipDecision]] = []
        for (index, order) in [[0, 1, 2], [1, 0, 2], [2, 1, 0], [1, 2, 0, 0, 1]].enumerated() {
            let store = try await Self.open("N\(index)", ca: ca, in: directory)
            defer { store.close() }
            for position in order { _ = try await store.submit(.decideMembership([decisions[position]])) }
            states.append(try Self.retired(store))
            held.append(try store.reader.membershipDecisions())
        }
        #expect(states.allSatisfy { $0 == ["MAD": false, "SEV": false, "BIO": true] }, "\(states)")
        #expect(held.allSatisfy { $0 == [decisions[2], decisions[1]] }, "\(held)")
        // What is held is what was signed: it verifies again wherever it is forwarded.
        #expect(held[0].allSatisfy { $0.isSigned(by: ca.publicKey) })
    }

    @Test("a node that learns its own retirement refuses local writes; re-admitted, it writes again")
    func retiredNodeRefusesItsWrites() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let ca = P256.Signing.PrivateKey()
        let store = try await Self.open("SEV", ca: ca, in: directory)
        defer { store.close() }
        try await store.addProduct("SKU-1")
        _ = try await store.submit(.decideMembership([try Self.decision("SEV", retired: true, at: 1_000, by: ca)]))
        await #expect(throws: StoreError.self) { try await store.move(.receive, "SKU-1", 1) }
        _ = try await store.submit(.decideMembership([try Self.decision("SEV", retired: false, at: 2_000, by: ca)]))
        try await store.move(.receive, "SKU-1", 1)
    }
}
