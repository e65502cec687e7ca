import Foundation
import Testing

extension InvCLITests {
    /// Live streams between real nodes, with anti-entropy rounds an hour apart: what reaches a peer after the nodes
    /// started travels on the streams (or not at all), and the new `inv status` keys count what each stream carried.
    ///
    /// Nested in the serialized ``InvCLITests``, as ``ClusterTests`` is.
    @Suite("Streams: live peer streams between real nodes", .serialized)
    struct StreamTests {
        /// The status of `node`'s peer `peer`, from `inv status --json`.
        func peerStatus(_ node: ClusterNode, _ peer: String) throws -> JSON? {
            try node.peerStatus(peer)
        }

        /// How much of `origin`'s ledger `node` holds: its version vector's entry.
        func held(_ node: ClusterNode, from origin: String) throws -> Int64 {
            try node.held(from: origin)
        }

        /// Waits (bounded) until `node`'s stream from `peer` is open.
        func waitForStream(_ node: ClusterNode, from peer: String) throws {
            let open = try waitUntil(.seconds(60), every: .milliseconds(50)) {
                try peerStatus(node, peer)?["stream_connected"] == .bool(true)
            }
            let status = try peerStatus(node, peer)
            #expect(open, "\(node.warehouse): no stream from \(peer): \(String(describing: status))\n\(node.serverLogs)")
        }

        /// A counter of `node`'s stream from `peer` (`stream_frames_received`, …).
        func streamCount(_ node: ClusterNode, from peer: String, _ key: String) throws -> Int64 {
            try peerStatus(node, peer)?[key]?.int ?? 0
        }

        @Test("with anti-entropy an hour apart, receipts on one node reach the two others through their streams")
        func receiptsTravelOnStreams() throws {
            let cluster = try Cluster(antiEntropySeconds: 3_600)
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            let bio = try cluster.join("BIO", via: mad)
            for node in [mad, sev, bio] { try node.start() }
            for node in [sev, bio] { try waitForStream(node, from: "MAD") }
            let before = try [sev, bio].map { try streamCount($0, from: "MAD", "stream_operations_received") }

            expectSuccess(try mad.inv("product", "add", "W1", "--name", "Widget"))
            let receipt = try mad.json("receive", "W1", "7")
            let id = try #require(receipt["id"]?.string)
            let target = try held(mad, from: "MAD")
            for node in [sev, bio] {
                let arrived = try waitUntil(.seconds(30)) { try held(node, from: "MAD") >= target }
                let holds = try held(node, from: "MAD")
                #expect(arrived, "\(node.warehouse) holds MAD:\(holds) of \(target)\n\(node.serverLogs)")
                #expect(try node.history("--sku", "W1").contains { $0["id"]?.string == id })
            }
            // Both operations (the product and the receipt) came on the streams, not in a round.
            for (node, count) in zip([sev, bio], before) {
                let received = try streamCount(node, from: "MAD", "stream_operations_received")
                #expect(received >= count + 2, "\(node.warehouse): \(received) operations streamed, \(count) before")
                #expect(try peerStatus(node, "MAD")?["stream_connected_since"]?.string != nil)
                // The replication lag of the newest operation merged: it was made moments ago, on this machine.
                let lag = try #require(try peerStatus(node, "MAD")?["lag_ms"]?.int, "\(node.warehouse): no lag_ms")
                #expect((0..<60_000).contains(lag), "\(node.warehouse): lag_ms \(lag)")
            }
            // The human table shows the stream.
            let status = try sev.inv("status")
            #expect(status.status == 0)
            #expect(status.stdout.contains("open since"), "\(status.stdout)")
        }

        @Test("a restarted node resumes its stream from its vector: only what it lacked is sent again")
        func restartResumesFromVector() async throws {
            let seed = SplitMix64.testSeed()
            var random = SplitMix64(seed: seed)
            let cluster = try Cluster(antiEntropySeconds: 3_600)
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            for node in [mad, sev] { try node.start() }
            try waitForStream(sev, from: "MAD")
            expectSuccess(try mad.inv("product", "add", "HIST", "--name", "History"))
            // A history far larger than what is written while SEV is down.
            let history = (0..<2_000).map { _ in (random.uuid(), Int64.random(in: 1...5, using: &random)) }
            try await ClusterTests.submitReceipts(history, sku: "HIST", to: mad)
            let target = try held(mad, from: "MAD")
            #expect(try waitUntil(.seconds(60)) { try held(sev, from: "MAD") >= target }, "SEV did not receive MAD's history")

            sev.stop()
            let missed = 5
            for quantity in 1...missed { expectSuccess(try mad.inv("receive", "HIST", "\(quantity)")) }
            let newTarget = try held(mad, from: "MAD")
            try sev.start()
            try waitForStream(sev, from: "MAD")
            #expect(try waitUntil(.seconds(60)) { try held(sev, from: "MAD") >= newTarget }, "SEV did not catch up after its restart")
            // The restarted process counts from zero: its stream carried at most what it lacked (its first round with
            // MAD may have fetched some of it first), never the history it held.
            let streamed = try streamCount(sev, from: "MAD", "stream_operations_received")
            let frames = try streamCount(sev, from: "MAD", "stream_frames_received")
            #expect(streamed <= Int64(missed), "seed \(seed): \(streamed) operations streamed after the restart, \(missed) missed")
            #expect(frames < 100, "seed \(seed): \(frames) frames after the restart")
            print("StreamTests.restartResumesFromVector: seed \(seed): \(streamed) operations in \(frames) frames after the restart")
        }

        @Test("SIGKILL of a node while its stream delivers: restarted, it converges and every acknowledged write is everywhere")
        func killReceiverMidStream() async throws {
            let seed = SplitMix64.testSeed()
            var random = SplitMix64(seed: seed)
            let cluster = try Cluster(antiEntropySeconds: 3_600)
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            for node in [mad, sev] { try node.start() }
            try waitForStream(sev, from: "MAD")
            try waitForStream(mad, from: "SEV")
            expectSuccess(try mad.inv("product", "add", "FLOW", "--name", "Flow"))
            let product = try held(mad, from: "MAD")
            #expect(try waitUntil(.seconds(30)) { try held(sev, from: "MAD") >= product }, "the product did not reach SEV")
            // SEV's own acknowledged writes, before it is killed: they must survive the kill and reach MAD.
            var sevWrites: [String: Int64] = [:]
            for _ in 0..<5 {
                let quantity = Int64.random(in: 1...9, using: &random)
                let row = try sev.json("receive", "FLOW", "\(quantity)")
                sevWrites[try #require(row["id"]?.string)] = quantity
            }

            // MAD writes in the background; SEV is SIGKILLed as soon as it holds part, not all, of it.
            let batch = (0..<20_000).map { _ in (random.uuid(), Int64.random(in: 1...5, using: &random)) }
            let before = try held(mad, from: "MAD")
            let (data, warehouse) = (mad.data, mad.warehouse)
            let writing = Task { try await ClusterTests.submitReceipts(batch, sku: "FLOW", toData: data, of: warehouse) }
            var seen: Int64 = 0
            let caught = try waitUntil(.seconds(120), every: .milliseconds(5)) {
                seen = try held(sev, from: "MAD")
                return seen > before
            }
            sev.crash()
            try await writing.value
            #expect(caught, "seed \(seed): SEV received nothing of the burst")
            let target = try held(mad, from: "MAD")
            print("StreamTests.killReceiverMidStream: seed \(seed): killed SEV holding MAD:\(seen) of \(target)")

            // Restarted, SEV resumes its stream from what it kept and reaches MAD's every write, without `inv sync`.
            try sev.start()
            let after = try held(sev, from: "MAD")
            #expect(after >= before, "SEV lost operations it held before the burst")
            #expect(try waitUntil(.seconds(120)) { try held(sev, from: "MAD") >= target }, "seed \(seed): SEV did not catch up\n\(sev.serverLogs)")
            #expect(try waitUntil(.seconds(60)) { try held(mad, from: "SEV") >= 5 }, "MAD lacks SEV's writes\n\(mad.serverLogs)")
            for node in [mad, sev] {
                let receipts = Set(try node.history("--sku", "FLOW", "--type", "receive").compactMap { $0["id"]?.string })
                let missingMAD = batch.filter { !receipts.contains($0.0) }
                let missingSEV = sevWrites.filter { !receipts.contains($0.key) }
                #expect(missingMAD.isEmpty && missingSEV.isEmpty,
                        "seed \(seed): \(node.warehouse) lacks \(missingMAD.count) of MAD's and \(missingSEV.count) of SEV's writes")
            }
            let snapshots = try [mad, sev].map { try $0.snapshot() }
            #expect(snapshots[0] == snapshots[1], "seed \(seed): the nodes differ after the restart")
        }
    }
}
