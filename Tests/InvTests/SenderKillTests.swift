import Foundation
import Testing

extension InvCLITests {
    /// The sending side of ``StreamTests/killReceiverMidStream()``: real nodes with anti-entropy rounds an hour
    /// apart, so what reaches a peer after the nodes started travels on the streams.
    ///
    /// Nested in the serialized ``InvCLITests``, as ``ClusterTests`` is.
    @Suite("A sender SIGKILLed while it streams a burst of its own writes: restarted, every acknowledged write is everywhere", .serialized)
    struct SenderKillTests {
        @Test("SIGKILL of a node while its streams carry its write burst: restarted, its peers catch up on their streams, and all converge")
        func killSenderMidStream() async throws {
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
            expectSuccess(try mad.inv("product", "add", "FLOW", "--name", "Flow"))
            let product = try mad.held(from: "MAD")
            let arrived = try cluster.lagging([sev, bio], behind: ["MAD": product], timeout: .seconds(30))
            #expect(arrived.isEmpty, "the product did not reach every node: \(arrived)")

            // MAD writes a burst; it is SIGKILLed as soon as a peer holds part of it, with writes still in flight.
            let batch = (0..<20_000).map { _ in (id: random.uuid(), quantity: Int64.random(in: 1...5, using: &random)) }
            let burst = try ReceiptBurst(batch, sku: "FLOW", toData: mad.data, of: mad.warehouse)
            var seen: Int64 = 0
            let caught = try waitUntil(.seconds(120), every: .milliseconds(5)) {
                seen = try sev.held(from: "MAD")
                return seen > product
            }
            mad.crash()
            burst.cutOff()
            let (acknowledged, failure) = await burst.finish()
            #expect(caught, "seed \(seed): SEV received nothing of the burst")
            print("""
                SenderKillTests.killSenderMidStream: seed \(seed): killed MAD with SEV holding MAD:\(seen), \
                \(acknowledged.count) of \(batch.count) receipts acknowledged (\(failure ?? "all answered"))
                """)
            #expect(!acknowledged.isEmpty, "seed \(seed): no receipt acknowledged before the kill")

            // While MAD is down, its peers keep writing: MAD must receive that too once back.
            var peerWrites: [String: Int64] = [:]
            for node in [sev, bio] {
                for _ in 0..<3 {
                    let quantity = Int64.random(in: 1...9, using: &random)
                    let row = try node.json("receive", "FLOW", "\(quantity)")
                    peerWrites[try #require(row["id"]?.string)] = quantity
                }
            }

            // Restarted, MAD holds every write it acknowledged; its peers resume their streams from it and reach all
            // of MAD's ledger, and MAD theirs, without `inv sync`.
            try mad.start()
            let quantities = Dictionary(uniqueKeysWithValues: batch.map { ($0.id, $0.quantity) })
            let kept = ClusterTests.quantities(try mad.history("--sku", "FLOW", "--type", "receive"))
            let lost = acknowledged.filter { kept[$0] != quantities[$0] }
            #expect(lost.isEmpty, "seed \(seed): MAD lost \(lost.count) acknowledged receipts to the kill")
            let targets = [
                "MAD": try mad.held(from: "MAD"), "SEV": try sev.held(from: "SEV"), "BIO": try bio.held(from: "BIO"),
            ]
            let behind = try cluster.lagging(all, behind: targets, timeout: .seconds(120))
            #expect(behind.isEmpty, "seed \(seed): streams did not catch up after MAD's restart: \(behind)\n\(mad.serverLogs)")

            for node in all {
                let rows = try node.history("--sku", "FLOW", "--type", "receive")
                let held = ClusterTests.quantities(rows)
                #expect(held.count == rows.count, "seed \(seed): \(node.warehouse) lists a receipt twice")
                let missingBurst = acknowledged.filter { held[$0] != quantities[$0] }
                let missingPeers = peerWrites.filter { held[$0.key] != $0.value }
                #expect(missingBurst.isEmpty && missingPeers.isEmpty,
                        "seed \(seed): \(node.warehouse) lacks \(missingBurst.count) of MAD's and \(missingPeers.count) of its peers' acknowledged receipts")
                // Only receipts that were sent: of the burst, those MAD committed, acknowledged or not.
                let unknown = Set(held.keys).subtracting(quantities.keys).subtracting(peerWrites.keys)
                #expect(unknown.isEmpty, "seed \(seed): \(node.warehouse) holds \(unknown.count) receipts no one wrote")
            }
            let snapshots = try all.map { try $0.snapshot() }
            #expect(snapshots.allSatisfy { $0 == snapshots[0] }, "seed \(seed): the nodes differ after the restart: \(snapshots.map { $0["version_vector"] ?? nil })")
        }
    }
}
