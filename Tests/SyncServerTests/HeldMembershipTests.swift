import CRDT
import Foundation
import Store
@testable import SyncServer
import Testing

/// A quiet gossip round exchanges vectors and digests only: the digest names what a node holds of the membership,
/// whatever the order it was read in, and the hello route answers a hello whose digest equals its own with its
/// digest alone.
@Suite("HeldMembership: a quiet hello carries a digest, not the membership")
struct HeldMembershipTests {
    static func member(_ warehouse: String, url: String = "https://127.0.0.1:1") -> MemberRecord {
        MemberRecord(warehouse: warehouse, peerURL: url, retired: false, timestamp: HLCTimestamp(rawValue: 7 << 16), replica: warehouse)
    }

    @Test("the digest does not depend on order or on whose record, and changes with any address, certificate or decision")
    func digestIsCanonical() throws {
        let members = [Self.member("A"), Self.member("B"), Self.member("C")]
        let certificates = ["Y2VydC1h", "Y2VydC1i"]
        let held = try HeldMembership(members: members, certificates: certificates, decisions: [])
        #expect(try HeldMembership(members: members.reversed(), certificates: certificates.reversed(), decisions: []).digest == held.digest)
        #expect(try HeldMembership(members: members, certificates: certificates + certificates, decisions: []).digest == held.digest)
        var recordedElsewhere = members
        for index in recordedElsewhere.indices {
            recordedElsewhere[index].replica = "Z"
            recordedElsewhere[index].timestamp = HLCTimestamp(rawValue: 8 << 16)
        }
        #expect(
            try HeldMembership(members: recordedElsewhere, certificates: certificates, decisions: []).digest == held.digest,
            "each node's own record of the same addresses")

        var moved = members
        moved[1].peerURL = "https://127.0.0.1:2"
        let changed = [
            try HeldMembership(members: moved, certificates: certificates, decisions: []),
            try HeldMembership(members: Array(members.dropLast()), certificates: certificates, decisions: []),
            try HeldMembership(members: members, certificates: certificates + ["Y2VydC1j"], decisions: []),
            try HeldMembership(members: members, certificates: certificates, decisions: [MembershipDecision(
                warehouse: "C", retired: true, timestamp: HLCTimestamp(rawValue: 9 << 16), actor: "admin", issuer: "A",
                signer: .clusterCA, signature: [1, 2, 3])]),
        ]
        #expect(Set(changed.map(\.digest) + [held.digest]).count == changed.count + 1)
    }

    @Test("the hello route answers a hello with its own digest with the digest alone, any other in whole")
    func routeAnswersDigestWithDigest() async throws {
        try await NodeFixture.with { fixture in
            try await LivePeerServer.run(fixture) { client in
                let first = try await client.post("/v1/sync/hello", json: #"{"v":1,"from":"C","vector":{},"members":[]}"#)
                #expect(first.status == 200, "\(first)")
                let whole = try JSONDecoder().decode(SyncHello.self, from: Data(first.body.utf8))
                #expect(whole.certificates?.isEmpty == false, "\(first.body)")
                let digest = try #require(whole.digest)

                let quiet = try await client.post("/v1/sync/hello", json: #"{"v":1,"from":"C","vector":{},"members":[],"digest":"\#(digest)"}"#)
                let answer = try JSONDecoder().decode(SyncHello.self, from: Data(quiet.body.utf8))
                #expect(quiet.status == 200 && answer.digest == digest, "\(quiet)")
                #expect(answer.members.isEmpty && (answer.certificates ?? []).isEmpty && (answer.decisions ?? []).isEmpty, "\(quiet.body)")
                #expect(answer.vector == whole.vector)

                let stale = try await client.post("/v1/sync/hello", json: #"{"v":1,"from":"C","vector":{},"members":[],"digest":"00"}"#)
                let full = try JSONDecoder().decode(SyncHello.self, from: Data(stale.body.utf8))
                #expect(full.members == whole.members && full.certificates == whole.certificates && full.digest == digest)
            }
        }
    }
}
