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

    /// `warehouse`'s member certificate as the store keeps it (the store does not parse the DER bytes).
    static func certify(_ warehouse: String, _ key: P256.Signing.PrivateKey, in store: NodeStore) async throws {
        let certificate = OriginCertificate(
            warehouse: rid(warehouse), publicKey: Array(key.publicKey.x963Representation), certificate: Array(warehouse.utf8))
        _ = try await store.submit(.addOriginCertificates([certificate]))
    }

    static func selfRetirement(_ warehouse: String, at milliseconds: UInt64, by key: P256.Signing.PrivateKey) throws -> MembershipDecision {
        try MembershipDecision.selfRetirement(
            of: warehouse, timestamp: HLCTimestamp(physicalMilliseconds: milliseconds, logical: 0), actor: "bob", nodeKey: key)
    }

    @Test("a warehouse's retirement of itself, signed with its certified key, is taken; superseded keys count too")
    func selfRetirementIsTaken() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let ca = P256.Signing.PrivateKey()
        let store = try await Self.open("MAD", ca: ca, in: directory)
        defer { store.close() }
        let superseded = P256.Signing.PrivateKey()
        try await Self.certify("SEV", superseded, in: store)
        try await Self.certify("SEV", P256.Signing.PrivateKey(), in: store)
        let decision = try Self.selfRetirement("SEV", at: 1_000, by: superseded)
        _ = try await store.submit(.decideMembership([decision]))
        #expect(try Self.retired(store) == ["MAD": false, "SEV": true, "BIO": false])
        #expect(try store.reader.membershipDecisions() == [decision])
        // Still only the CA re-admits it, and its re-admission supersedes.
        _ = try await store.submit(.decideMembership([try Self.decision("SEV", retired: false, at: 2_000, by: ca)]))
        #expect(try Self.retired(store)["SEV"] == false)
        let log = try store.reader.membershipDecisionLog()
        #expect(log.map(\.signer) == [.warehouse, .clusterCA])
        #expect(log.map(\.actor) == ["bob", "admin"])
        #expect(log.map(\.retired) == [true, false])
    }

    @Test("a node key retiring another warehouse, re-admitting, or altered, or uncertified, is refused")
    func nodeKeyCannotSpeakForOthers() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let ca = P256.Signing.PrivateKey()
        let store = try await Self.open("MAD", ca: ca, in: directory)
        defer { store.close() }
        let sevKey = P256.Signing.PrivateKey()
        try await Self.certify("SEV", sevKey, in: store)
        let at = HLCTimestamp(physicalMilliseconds: 1_000, logical: 0)
        func signed(_ decision: MembershipDecision, by key: P256.Signing.PrivateKey) throws -> MembershipDecision {
            // Any fields signed with a node key, as a compromised node could.
            var signed = decision
            try signed.sign(with: key)
            return signed
        }
        // SEV's key retiring BIO, issued as SEV or as BIO.
        let otherAsSelf = try signed(
            MembershipDecision(warehouse: "BIO", retired: true, timestamp: at, actor: "x", issuer: "SEV", signer: .warehouse, signature: []),
            by: sevKey)
        let otherAsOther = try signed(
            MembershipDecision(warehouse: "BIO", retired: true, timestamp: at, actor: "x", issuer: "BIO", signer: .warehouse, signature: []),
            by: sevKey)
        // SEV's key re-admitting SEV.
        let readmission = try signed(
            MembershipDecision(warehouse: "SEV", retired: false, timestamp: at, actor: "x", issuer: "SEV", signer: .warehouse, signature: []),
            by: sevKey)
        // A genuine self-retirement, then altered: a field, or its signer claimed to be the CA.
        var altered = try Self.selfRetirement("SEV", at: 1_000, by: sevKey)
        altered.actor = "mallory"
        var asCA = try Self.selfRetirement("SEV", at: 1_000, by: sevKey)
        asCA.signer = .clusterCA
        // Signed by a key no certificate of SEV certifies.
        let uncertified = try Self.selfRetirement("SEV", at: 1_000, by: P256.Signing.PrivateKey())
        // A self-retirement far in the future, which no re-admission could supersede.
        let future = try Self.selfRetirement("SEV", at: UInt64(Date().timeIntervalSince1970 * 1_000) + 86_400_000, by: sevKey)
        for decision in [otherAsSelf, otherAsOther, readmission, altered, asCA, uncertified, future] {
            guard case .members(let changed) = try await store.submit(.decideMembership([decision])) else {
                Issue.record("unexpected outcome")
                return
            }
            #expect(changed.isEmpty, "\(decision)")
        }
        #expect(try Self.retired(store) == ["MAD": false, "SEV": false, "BIO": false])
        #expect(try store.reader.membershipDecisions().isEmpty)
        #expect(try store.reader.membershipDecisionLog().isEmpty)
    }

    @Test("version-1 bytes are unchanged for the CA; a self-retirement travels with its signer and verifies again")
    func signedBytesAreVersioned() throws {
        let ca = P256.Signing.PrivateKey()
        let byCA = try Self.decision("SEV", retired: true, at: 1_000, by: ca)
        let json = String(decoding: try JSONEncoder().encode(byCA), as: UTF8.self)
        #expect(!json.contains("signer"))
        let decoded = try JSONDecoder().decode(MembershipDecision.self, from: Data(json.utf8))
        #expect(decoded == byCA && decoded.isSigned(by: ca.publicKey))
        let key = P256.Signing.PrivateKey()
        let own = try Self.selfRetirement("SEV", at: 1_000, by: key)
        let ownJSON = try JSONEncoder().encode(own)
        #expect(String(decoding: ownJSON, as: UTF8.self).contains(#""signer":"warehouse""#))
        let ownDecoded = try JSONDecoder().decode(MembershipDecision.self, from: ownJSON)
        #expect(ownDecoded == own && ownDecoded.isSigned(by: key.publicKey))
        // The signer is signed: the same signature under the version-1 reading does not verify.
        var relabelled = own
        relabelled.signer = .clusterCA
        #expect(!relabelled.isSigned(by: key.publicKey))
        let unknown = String(decoding: ownJSON, as: UTF8.self).replacingOccurrences(of: #""warehouse""#, with: #""nobody""#)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(MembershipDecision.self, from: Data(unknown.utf8)) }
    }
}
