import Foundation
import Testing

extension InvCLITests {
    /// Four real nodes, each in a network namespace of its own (``NetworkNamespaces``), a veth pair between every
    /// two: links go down and up while every node writes.
    ///
    /// Nested in the serialized ``InvCLITests``, as ``ClusterTests`` is.
    @Suite("Links cut and mended while every node writes: each node ends equal to the model of the acknowledged operations", .serialized)
    struct LinkCutTests {
        @Test("a seeded schedule of link cuts (both ends, or one end only) during writes at every node: nothing acknowledged lost, nothing applied twice")
        func cutsDuringWrites() throws {
            let seed = SplitMix64.testSeed()
            var random = SplitMix64(seed: seed)
            let replay = "seed \(seed) (replay: INV_TEST_SEED=\(seed) swift test --filter LinkCutTests)"
            let network = try NetworkNamespaces(count: 4)
            // Background rounds every two seconds, beside the streams: both meet the cuts.
            let cluster = try Cluster(antiEntropySeconds: 2, network: network)
            defer { cluster.cleanup() }
            let warehouses = ["MAD", "SEV", "BIO", "VLC"]
            let founder = try cluster.found(warehouses[0])
            let all = try [founder] + warehouses.dropFirst().map { try cluster.join($0, via: founder) }
            for node in all { try node.start() }
            try cluster.introduce(all)
            let skus = ["C1", "C2", "C3"]
            for sku in skus { expectSuccess(try founder.inv("product", "add", sku, "--name", "Cut \(sku)")) }
            try cluster.converge(all, concurrently: true)

            var model = StockModel(productOperations: [founder.warehouse: skus.count])
            var uncertain: [String: PlannedOperation] = [:]
            var cuts = 0
            var writesAcrossCuts = 0
            // Bounded by counts, not by time: a seed replays the same schedule on any machine.
            for round in 1...30 {
                // About one link change every two rounds: cut a link (at most three of the six down at once), or mend one.
                if Bool.random(using: &random) {
                    let up = network.allLinks.subtracting(network.cutLinks).sorted { ($0.low, $0.high) < ($1.low, $1.high) }
                    if network.cutLinks.count < 3 && Bool.random(using: &random) || network.cutLinks.isEmpty {
                        let link = up.randomElement(using: &random)!
                        switch Int.random(in: 0..<3, using: &random) {
                        case 0: try network.cut(link)
                        case 1: try network.cut(link, downAt: link.low)
                        default: try network.cut(link, downAt: link.high)
                        }
                        cuts += 1
                    } else {
                        let cut = network.cutLinks.sorted { ($0.low, $0.high) < ($1.low, $1.high) }
                        try network.mend(cut.randomElement(using: &random)!)
                    }
                }
                if !network.cutLinks.isEmpty { writesAcrossCuts += all.count }
                for (op, problem, result) in try model.runRound(at: all, warehouses: warehouses, skus: skus, using: &random) {
                    Issue.record("\(replay), round \(round), cut \(network.cutLinks): \(problem)\n\(result)")
                    uncertain[op.id] = op
                }
            }
            print("""
                LinkCutTests.cutsDuringWrites: \(replay): \(cuts) cuts, \(writesAcrossCuts) writes while a link was down, \
                \(model.acknowledged.count) acknowledged, \(model.refusedForStock) refused for stock, \
                \(model.refusedNotArrived) accepts before arrival
                """)
            #expect(cuts >= 3 && writesAcrossCuts >= 20, "\(replay): the schedule barely cut anything (\(cuts) cuts)")

            // Mended, every node ends equal to the model.
            for link in network.cutLinks { try network.mend(link) }
            let snapshot = try cluster.converge(all, timeout: .seconds(180), concurrently: true)
            if !uncertain.isEmpty {
                let held = Set(try founder.history().compactMap { $0["id"]?.string })
                for (id, op) in uncertain where held.contains(id) { model.applyUnacknowledged(op) }
            }
            try model.expectHeld(by: all, snapshot: snapshot, replay: replay)
        }
    }
}
