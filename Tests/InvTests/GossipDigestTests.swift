import Foundation
import Testing

extension InvCLITests {
    /// A quiet cluster's gossip exchanges vectors and membership digests, not the membership; a membership change
    /// still reaches every node by gossip alone. Real nodes with anti-entropy every second, counted on `/metrics`.
    ///
    /// Nested in the serialized ``InvCLITests``, as ``ClusterTests`` is.
    @Suite("Gossip digests: quiet rounds carry a digest, changes still travel", .serialized)
    struct GossipDigestTests {
        /// `node`'s `inv_sync_hellos_sent_total{membership="…"}`, read from `GET /metrics` with curl.
        func hellosSent(_ node: ClusterNode, _ membership: String) throws -> Int {
            let curl = Process()
            curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            curl.arguments = [
                "curl", "-sS", "--max-time", "20", "--cacert", node.data + "/tls/ca.pem",
                "-H", "Authorization: Bearer \(try node.adminToken)", node.url + "/metrics",
            ]
            let output = Pipe()
            curl.standardOutput = output
            curl.standardError = FileHandle.nullDevice
            try curl.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            curl.waitUntilExit()
            let prefix = "inv_sync_hellos_sent_total{membership=\"\(membership)\"} "
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return 0 }
            return Int(Double(line.dropFirst(prefix.count)) ?? 0)
        }

        @Test("once every node holds the same membership, gossip sends digests only; a retirement still reaches every node")
        func quietGossipSendsDigests() throws {
            let cluster = try Cluster(antiEntropySeconds: 1)
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            let bio = try cluster.join("BIO", via: mad)
            let all = [mad, sev, bio]
            for node in all { try node.start() }
            try cluster.converge(all)

            // Each node's gossip reaches digest rounds once its first rounds have brought the same membership.
            for node in all {
                let quiet = try waitUntil(.seconds(60), every: .milliseconds(200)) { try hellosSent(node, "digest") >= 2 }
                #expect(quiet, "\(node.warehouse) sent no digest hello:\n\(node.serverLogs)")
            }
            // Then a few more rounds on every node (a count of rounds, not a time): none carries the membership.
            let whole = try all.map { try hellosSent($0, "whole") }
            let digests = try all.map { try hellosSent($0, "digest") }
            for (node, before) in zip(all, digests) {
                let more = try waitUntil(.seconds(60), every: .milliseconds(200)) { try hellosSent(node, "digest") >= before + 3 }
                let now = try hellosSent(node, "digest")
                #expect(more, "\(node.warehouse): \(now) digest hellos, \(before) before")
            }
            #expect(try all.map { try hellosSent($0, "whole") } == whole, "a quiet round sent the whole membership")

            // MAD, which holds the cluster CA key, retires BIO; SEV learns it from gossip alone (no `inv sync`),
            // though MAD and SEV were exchanging digests: MAD's digest changed with the decision.
            expectSuccess(try mad.inv("peer", "remove", "BIO"))
            let learnt = try waitUntil(.seconds(60), every: .milliseconds(200)) { try sev.members()["BIO"]?["retired"] == true }
            #expect(learnt, "SEV never learnt BIO's retirement:\n\(sev.serverLogs)")
        }
    }
}
