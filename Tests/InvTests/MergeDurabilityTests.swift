import Foundation
import Testing

extension InvCLITests.StreamTests {
    /// The durability rule for replication (docs/architecture.md, *The single writer*): a batch of peers' pages
    /// commits without an fsync, because what it merged is durable at its origin. A power cut can then take the
    /// latest merges back out of a node's database, and nothing else: this test leaves a node's database as such a
    /// cut would (a copy taken before its latest merges, its own writes all in it) and shows that the lost merges
    /// come back, each once, without `inv sync`.
    @Test("a node that lost its latest merges (its database as a power cut leaves it) receives them again, each once")
    func lostMergesComeBack() async throws {
        let seed = SplitMix64.testSeed()
        var random = SplitMix64(seed: seed)
        let cluster = try Cluster(antiEntropySeconds: 3_600)
        defer { cluster.cleanup() }
        let mad = try cluster.found("MAD")
        let sev = try cluster.join("SEV", via: mad)
        for node in [mad, sev] { try node.start() }
        try waitForStream(sev, from: "MAD")
        expectSuccess(try mad.inv("product", "add", "LOST", "--name", "Lost and found"))
        let sevReceipt = try #require(try sev.json("receive", "LOST", "3")["id"]?.string)
        let product = try held(mad, from: "MAD")
        #expect(try waitUntil(.seconds(30)) { try held(sev, from: "MAD") >= product }, "the product did not reach SEV")

        // The state a power cut would leave: SEV's database with every commit up to here, its own writes included.
        let kept = try held(sev, from: "MAD")
        sev.stop()
        let database = sev.data + "/inv.sqlite"
        let saved = cluster.root.file("sev-before-merges")
        try FileManager.default.createDirectory(atPath: saved, withIntermediateDirectories: true)
        let files = ["", "-wal", "-shm"].filter { FileManager.default.fileExists(atPath: database + $0) }
        for suffix in files { try FileManager.default.copyItem(atPath: database + suffix, toPath: saved + "/inv.sqlite" + suffix) }

        // SEV merges MAD's receipts (and writes nothing of its own), then is cut off.
        try sev.start()
        try waitForStream(sev, from: "MAD")
        let receipts = (0..<300).map { _ in (random.uuid(), Int64.random(in: 1...9, using: &random)) }
        try await InvCLITests.ClusterTests.submitReceipts(receipts, sku: "LOST", to: mad)
        let target = try held(mad, from: "MAD")
        #expect(target >= kept + Int64(receipts.count))
        #expect(try waitUntil(.seconds(60)) { try held(sev, from: "MAD") >= target }, "seed \(seed): SEV did not merge MAD's receipts")
        sev.crash()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) }
        for suffix in files { try FileManager.default.copyItem(atPath: saved + "/inv.sqlite" + suffix, toPath: database + suffix) }

        // Restarted on the database it had before the receipts: its first round and its stream bring them again.
        try sev.start()
        let caughtUp = try waitUntil(.seconds(120)) { try held(sev, from: "MAD") >= target }
        let holds = try held(sev, from: "MAD")
        #expect(caughtUp, "seed \(seed): SEV holds MAD:\(holds) of \(target)\n\(sev.serverLogs)")
        let rows = try sev.history("--sku", "LOST", "--type", "receive").compactMap { $0["id"]?.string }
        #expect(rows.count == Set(rows).count, "seed \(seed): a receipt appears twice on SEV")
        let ids = Set(rows)
        #expect(receipts.allSatisfy { ids.contains($0.0) } && ids.contains(sevReceipt),
                "seed \(seed): SEV lacks \(receipts.filter { !ids.contains($0.0) }.count) of MAD's receipts or its own")
        #expect(try waitUntil(.seconds(60)) { try mad.snapshot() == sev.snapshot() }, "seed \(seed): MAD and SEV differ")
        print("StreamTests.lostMergesComeBack: seed \(seed): SEV kept MAD:\(kept) of \(target) and received the rest again")
    }
}
