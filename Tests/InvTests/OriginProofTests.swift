import CRDT
import Foundation
import NIOCore
import Store
import SyncServer
import Testing

extension InvCLITests {
    /// Finding 5 of the security review, against real `inv serve` processes: a member speaks for another
    /// warehouse. A test program holding a real member certificate (C) relays B's operations to A after forging,
    /// tampering and replaying them, while A keeps working.
    @Suite("Every operation proves its origin")
    struct OriginProofTests {
        @Test("a member forging, tampering and replaying B's operations: A applies B's honest operations only, and names C")
        func forgedTamperedReplayed() async throws {
            let seed = SplitMix64.testSeed()
            var random = SplitMix64(seed: seed)
            let replay = "seed \(seed) (replay: INV_TEST_SEED=\(seed) swift test --filter OriginProofTests)"
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let a = try cluster.found("A")
            let b = try cluster.join("B", via: a)
            try a.start()
            try b.start()
            expectSuccess(try a.inv("product", "add", "P", "--name", "Pear"))
            try cluster.converge([a, b])
            expectSuccess(try b.inv("receive", "P", "40"))
            try cluster.converge([a, b])
            let c = try HostilePeer("C", issuedBy: a, in: cluster.root)
            defer { Task { await c.shutdown() } }

            // B sells while A is down: operations of B that only B (and C, which pulls them) hold.
            let heldByA = try a.snapshot()["version_vector"]?.object?.compactMapValues { $0.int.map(UInt64.init) } ?? [:]
            _ = a.stop()
            let sales = Int.random(in: 3...8, using: &random)
            for _ in 0..<sales { expectSuccess(try b.inv("sell", "P", "1")) }
            let page = try await c.pullPage(b.peerURL, vector: heldByA)
            _ = b.stop()
            try a.start()

            let (operations, encoded) = try OperationPage.decodeKeepingBytes(page)
            let proofs = try LedgerOperationCodec.decodeWithProofs(encoded).proofs
            let ofB = operations.filter { $0.origin.rawValue == "B" }
            #expect(ofB.count == sales, "\(replay)")
            let first = try #require(ofB.first?.sequence, "\(replay)")

            // Tampered: one of B's sales changed (undone, or its reason or actor rewritten), B's real head kept.
            var tampered = operations
            let target = first + UInt64.random(in: 0..<UInt64(sales), using: &random)
            let victim = try #require(tampered.firstIndex { $0.origin.rawValue == "B" && $0.sequence == target })
            switch Int.random(in: 0..<3, using: &random) {
            case 0:
                tampered[victim].delta = 0
                tampered[victim].counter?.decrements -= 1
            case 1: tampered[victim].reason = "=HYPERLINK(\"https://evil.example\")"
            default: tampered[victim].actor = "mallory"
            }
            // Forged: sales of B's stock B never made, at B's next sequences, under a head C signed for B.
            var forged: [LedgerOperation] = []
            var forgedIDs: [String] = []
            let counter = try #require(ofB.last?.counter)
            for index in 0..<Int.random(in: 1...5, using: &random) {
                let id = random.uuid()
                forgedIDs.append(id)
                forged.append(LedgerOperation(
                    origin: try ReplicaID("B"), sequence: first + UInt64(index), timestamp: ofB[0].timestamp, kind: .sell,
                    sku: try SKU("P"), movementID: id, warehouse: try ReplicaID("B"), delta: -10,
                    counter: PNCounter.Entry(increments: counter.increments, decrements: counter.decrements + 10 * UInt64(index + 1)),
                    actor: "mallory"))
            }
            let fakeHash = try #require(ChainHash(bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }))
            let forgedHead = try SignedHead.signed(
                origin: try ReplicaID("B"), tip: ChainTip(sequence: forged.last!.sequence, hash: fakeHash), key: c.credentials.node.privateKey)

            // The attack, interleaved with A's own work; every push is accepted as a request and applies nothing.
            let tamperedAnswer = try await c.pushPage(a.peerURL, try OperationPage.encode(tampered, proofs: proofs))
            #expect(tamperedAnswer.status == 200 && tamperedAnswer.body.contains("\"applied\":0"), "\(tamperedAnswer) \(replay)")
            expectSuccess(try a.inv("receive", "P", "5"))
            let forgedAnswer = try await c.pushPage(a.peerURL, try OperationPage.encode(forged, proofs: PageProofs(heads: [forgedHead])))
            #expect(forgedAnswer.status == 200 && forgedAnswer.body.contains("\"applied\":0"), "\(forgedAnswer) \(replay)")
            // Forged operations under B's real head: the chain does not reach it.
            let underRealHead = try await c.pushPage(a.peerURL, try OperationPage.encode(forged, proofs: proofs))
            #expect(underRealHead.body.contains("\"applied\":0"), "\(underRealHead) \(replay)")
            // B's untouched page, relayed by C: what any member may do, and it is applied; then replayed: duplicates.
            let honest = try await c.pushPage(a.peerURL, page)
            #expect(honest.status == 200 && honest.body.contains("\"applied\":\(operations.count)"), "\(honest) \(replay)")
            let replayed = try await c.pushPage(a.peerURL, page)
            #expect(replayed.body.contains("\"applied\":0") && replayed.body.contains("\"duplicates\":\(operations.count)"), "\(replayed) \(replay)")
            let lateTamper = try await c.pushPage(a.peerURL, try OperationPage.encode(tampered, proofs: proofs))
            #expect(lateTamper.body.contains("\"applied\":0"), "\(lateTamper) \(replay)")
            expectSuccess(try a.inv("sell", "P", "2"))
            #expect(a.isRunning, "A died:\n\(a.serverLogs)")

            try b.start()
            let common = try cluster.converge([a, b])
            #expect(common["version_vector"]?["B"]?.int == Int64(first) + Int64(sales) - 1, "\(replay)")
            // B's stock on every node is what B itself recorded: 40 received, `sales` sold.
            let stockOfB = common["stock"]?.array?.first { $0["sku"] == .string("P") && $0["warehouse"] == .string("B") }?["quantity"]?.int
            #expect(stockOfB == Int64(40 - sales), "\(common) \(replay)")
            let history = try a.history()
            for id in forgedIDs { #expect(!history.contains { $0["id"] == .string(id) }, "forged movement \(id) on A, \(replay)") }
            #expect(!history.contains { $0["user"] == .string("mallory") || $0["actor"] == .string("mallory") }, "\(replay)")
            let logs = a.serverLogs
            #expect(logs.contains("pushed by C") && logs.contains("C forwarded operations B never made"), "A's log names no forger:\n\(logs)")
        }
    }
}
