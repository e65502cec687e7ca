import Foundation
import Testing

extension InvCLITests {
    /// Three real nodes with anti-entropy rounds an hour apart; one is frozen by SIGSTOP: its sockets stay open, so
    /// its peers' connections to it succeed and then hear nothing, as with a hung machine.
    ///
    /// Nested in the serialized ``InvCLITests``, as ``ClusterTests`` is.
    @Suite("A peer frozen by SIGSTOP: the others acknowledge every local write meanwhile, and it catches up after SIGCONT", .serialized)
    struct FrozenPeerTests {
        /// How long the peer stays frozen (at least: it is thawed once the write in progress has answered).
        static let freeze: Duration = .seconds(10)

        @Test("SIGSTOP of one node for ten seconds while the two others write: every write acknowledged, and after SIGCONT all converge")
        func frozenPeerCatchesUp() throws {
            let seed = SplitMix64.testSeed()
            var random = SplitMix64(seed: seed)
            let cluster = try Cluster(antiEntropySeconds: 3_600)
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            let bio = try cluster.join("BIO", via: mad)
            let all = [mad, sev, bio]
            for node in all { try node.start() }
            try cluster.introduce(all)
            var closed: [String] = []
            try waitUntil(.seconds(60), every: .milliseconds(250)) {
                closed = try cluster.closedStreams(all)
                return closed.isEmpty
            }
            #expect(closed.isEmpty, "streams not open (from → to): \(closed)")
            expectSuccess(try mad.inv("product", "add", "ICE", "--name", "Ice"))
            let product = try mad.held(from: "MAD")
            let arrived = try cluster.lagging([sev, bio], behind: ["MAD": product], timeout: .seconds(30))
            #expect(arrived.isEmpty, "the product did not reach every node: \(arrived)")

            // BIO freezes; MAD and SEV write in turn, each write waiting for its answer (up to a minute: a write
            // that waited on the frozen peer would show here as a failure, not as slowness).
            bio.freeze()
            var written: [String: Int64] = [:]
            var refused: [InvResult] = []
            let frozenAt = ContinuousClock.now
            var attempts = 0
            while ContinuousClock.now - frozenAt < Self.freeze || attempts < 10 {
                let node = [mad, sev][attempts % 2]
                let quantity = Int64.random(in: 1...9, using: &random)
                let id = random.uuid()
                let result = try node.run(["receive", "ICE", "\(quantity)", "--id", id, "--json", "--data", node.data], timeout: .seconds(60))
                attempts += 1
                if result.status == 0 { written[id] = quantity } else { refused.append(result) }
            }
            bio.thaw()
            print("FrozenPeerTests.frozenPeerCatchesUp: seed \(seed): \(written.count) of \(attempts) writes acknowledged while BIO was frozen")
            #expect(refused.isEmpty, "seed \(seed): \(refused.count) of \(attempts) writes refused while BIO was frozen: \(refused.prefix(3))")
            #expect(written.count == attempts)

            // Thawed, BIO receives everything on its streams, and sends what it had.
            let targets = ["MAD": try mad.held(from: "MAD"), "SEV": try sev.held(from: "SEV")]
            let behind = try cluster.lagging([bio], behind: targets, timeout: .seconds(120))
            #expect(behind.isEmpty, "seed \(seed): BIO did not catch up after SIGCONT: \(behind)\n\(bio.serverLogs)")
            for node in all {
                let held = ClusterTests.quantities(try node.history("--sku", "ICE", "--type", "receive"))
                let missing = written.filter { held[$0.key] != $0.value }
                #expect(missing.isEmpty, "seed \(seed): \(node.warehouse) lacks \(missing.count) of the \(written.count) acknowledged writes")
                #expect(held.count == written.count, "seed \(seed): \(node.warehouse) holds \(held.count) receipts, \(written.count) written")
            }
            let snapshot = try cluster.converge(all)
            let vector = snapshot["version_vector"]
            #expect(vector?["MAD"]?.int == targets["MAD"] && vector?["SEV"]?.int == targets["SEV"], "seed \(seed): \(String(describing: vector)), wrote \(targets)")
        }
    }
}
