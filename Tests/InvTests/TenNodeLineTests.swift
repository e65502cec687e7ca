import Foundation
import Testing

extension InvCLITests {
    /// Ten real nodes, each in a network namespace of its own (``NetworkNamespaces``), joined as a user joins them,
    /// with anti-entropy rounds an hour apart: first every link is up, then only those of a line.
    ///
    /// One set of ten nodes serves both parts: starting ten servers is most of the cost. Nested in the serialized
    /// ``InvCLITests``, as ``ClusterTests`` is.
    @Suite("Ten nodes: every write reaches every node on the live streams, and cut down to a line they still converge", .serialized)
    struct TenNodeLineTests {
        @Test("ten joined nodes: each write reaches all nine others without `inv sync`; as a line, all converge to the model of the acknowledged operations")
        func tenNodesThenLine() throws {
            let seed = SplitMix64.testSeed()
            var random = SplitMix64(seed: seed)
            let replay = "seed \(seed) (replay: INV_TEST_SEED=\(seed) swift test --filter TenNodeLineTests)"
            let network = try NetworkNamespaces(count: 10)
            let cluster = try Cluster(antiEntropySeconds: 3_600, network: network)
            defer { cluster.cleanup() }

            // Joined as a user joins them: `inv cert issue` on the founder, `inv init --join` on the new node.
            let warehouses = (1...10).map { String(format: "N%02d", $0) }
            let founder = try cluster.found(warehouses[0])
            let all = try [founder] + warehouses.dropFirst().map { try cluster.join($0, via: founder) }
            for node in all { try node.start() }
            try cluster.introduce(all)
            var closed: [String] = []
            try waitUntil(.seconds(90), every: .milliseconds(500)) {
                closed = try cluster.closedStreams(all)
                return closed.isEmpty
            }
            #expect(closed.isEmpty, "streams not open (from → to): \(closed)")

            // Part 1, every link up: the products, then a receipt on every node, reach every node on the streams.
            let skus = ["L1", "L2", "L3"]
            for sku in skus { expectSuccess(try founder.inv("product", "add", sku, "--name", "Line \(sku)")) }
            var model = StockModel(productOperations: [founder.warehouse: skus.count])
            let products = try cluster.lagging(all, behind: [founder.warehouse: Int64(skus.count)], timeout: .seconds(60))
            #expect(products.isEmpty, "the products did not reach every node: \(products)")
            let receipts = all.map { node in
                PlannedOperation(
                    kind: .receive, warehouse: node.warehouse, sku: skus.randomElement(using: &random)!,
                    quantity: Int64.random(in: 20...40, using: &random), id: random.uuid())
            }
            let results = try runInvConcurrently(zip(all, receipts).map { node, op in (node, op.arguments + ["--json"]) })
            for (op, result) in zip(receipts, results) {
                if let problem = model.apply(op, result) { Issue.record("\(replay): \(problem)\n\(result)") }
            }
            let targets = Dictionary(uniqueKeysWithValues: try all.map { ($0.warehouse, try $0.held(from: $0.warehouse)) })
            let behind = try cluster.lagging(all, behind: targets, timeout: .seconds(90))
            #expect(behind.isEmpty, "\(replay): writes did not reach every node on the streams: \(behind)")
            let snapshots = try all.map { try $0.snapshot() }
            let differing = zip(all, snapshots).filter { $1 != snapshots[0] }.map(\.0.warehouse)
            #expect(differing.isEmpty, "\(replay): snapshots differ from \(founder.warehouse)'s on \(differing)")

            // Part 2, a line: each node reaches only its neighbours.
            try network.keepOnly(network.line)
            let acrossTheLine = try all[0].run(["peer", "add", all[2].peerURL, "--data", all[0].data], timeout: .seconds(60))
            #expect(acrossTheLine.status != 0 && acrossTheLine.stderr.contains("cannot reach"), "N01 reached N03 across the line: \(acrossTheLine)")
            var unexpected = 0
            for round in 1...6 {
                let problems = try model.runRound(at: all, warehouses: warehouses, skus: skus, using: &random)
                for (_, problem, result) in problems { Issue.record("\(replay), line round \(round): \(problem)\n\(result)") }
                unexpected += problems.count
            }
            print("""
                TenNodeLineTests.tenNodesThenLine: \(replay): \(model.acknowledged.count) acknowledged movements, \
                \(model.refusedForStock) refused for stock, \(model.refusedNotArrived) accepts before arrival
                """)
            // What a node writes reaches the far end of the line only through the nodes between: rounds of `inv sync`
            // (one hop or more each) until every snapshot is equal.
            let snapshot = try cluster.converge(all, rounds: 40, timeout: .seconds(240), concurrently: true)
            // An outcome the model did not allow was recorded above; the comparison would only repeat it.
            if unexpected == 0 { try model.expectHeld(by: all, snapshot: snapshot, replay: replay) }
        }
    }
}
