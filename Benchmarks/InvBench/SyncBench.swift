import ArgumentParser
import AsyncHTTPClient
import CRDT
import Foundation
import Store
import SyncServer

/// A cold node catching up over HTTPS with a node that holds a large backlog from several origins.
struct SyncBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync", abstract: "Catch-up throughput, bytes per operation on the wire and memory of both nodes.")

    @Option(help: "Operations node A holds that B lacks.") var operations = 1_000_000
    @Option(help: "Distinct SKUs.") var skus = 10_000
    @Option(help: "Origins the operations come from.") var origins = 4

    func run() async throws {
        let scratch = try scratchDirectory("sync")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        print("inv-bench sync: node A holds \(operations) operations (\(skus) SKUs, \(origins) origins); cold node B catches up over HTTPS, synchronous=FULL")

        let cluster = try await BenchCluster.create(in: scratch, antiEntropySeconds: 3_600)
        let (a, b) = (cluster.a, cluster.b)

        let fillStart = now()
        try await fill(a.directory, replica: try ReplicaID("A"))
        let fillSeconds = now() - fillStart
        figure("backlog merged into A (setup)", Double(operations) / fillSeconds, "ops/s")

        let client = try cluster.makeClient()
        var nodes: [NodeProcess] = []
        let seconds: Double
        let indexedSeconds: Double
        let cpuBMerged: Double
        let cpuAStart: Double
        let bytes: Int
        do {
            nodes.append(try NodeProcess.spawn(a.directory))
            // A is a node in its steady state: up, with the history index of its setup merge complete.
            _ = try await NodeStatus.wait(client: client, url: a.config.url, token: a.adminToken) { $0.history_index_backlog == 0 }
            cpuAStart = cpuSeconds(pid: nodes[0].pid)
            let start = now()
            nodes.append(try NodeProcess.spawn(b.directory))
            let status = try await NodeStatus.wait(client: client, url: b.config.url, token: b.adminToken) { status in
                status.version_vector.values.reduce(0, +) >= UInt64(operations)
            }
            seconds = now() - start
            cpuBMerged = cpuSeconds(pid: nodes[1].pid)
            bytes = status.peers.first { $0.warehouse == "A" }?.bytesReceived ?? 0
            // Merged means durable and counted in stock; the SKU history index of a large merge follows when B's
            // writer is idle (history reads the unindexed ranges meanwhile). Timed too, so nothing hides there.
            _ = try await NodeStatus.wait(client: client, url: b.config.url, token: b.adminToken) { $0.history_index_backlog == 0 }
            indexedSeconds = now() - start
        } catch {
            for node in nodes { await node.stop() }
            try await client.shutdown()
            throw error
        }
        let (nodeA, nodeB) = (nodes[0], nodes[1])
        let cpuA = cpuSeconds(pid: nodeA.pid) - cpuAStart
        let cpuB = cpuSeconds(pid: nodeB.pid)
        let rssA = peakRSSMegabytes(pid: nodeA.pid)
        let rssB = peakRSSMegabytes(pid: nodeB.pid)
        for node in nodes { await node.stop() }
        try await client.shutdown()

        let rate = Double(operations) / seconds
        let perOperation = Double(bytes) / Double(operations)
        let peak = max(rssA, rssB)
        figure("catch-up elapsed (B start to all merged)", seconds, "s")
        figure("sync_ops_per_s", rate, "ops/s", limit: ">= 250000")
        figure("wire_bytes_per_op", perOperation, "bytes", limit: "<= 40")
        figure("CPU node A (serving pages)", cpuA / Double(operations) * 1e6, "µs/op")
        figure("CPU node B (merging)", cpuBMerged / Double(operations) * 1e6, "µs/op")
        figure("history index complete on B after", indexedSeconds, "s")
        figure("ops/s including history indexing", Double(operations) / indexedSeconds, "ops/s")
        figure("CPU node B incl. history indexing", cpuB / Double(operations) * 1e6, "µs/op")
        figure("peak RSS node A", rssA, "MiB")
        figure("peak RSS node B", rssB, "MiB")
        figure("peak_rss_mb", peak, "MiB", limit: "< 300")
        print(String(format: "RESULT sync_ops_per_s=%.0f wire_bytes_per_op=%.1f peak_rss_mb=%.0f", rate, perOperation, peak))
    }

    /// Merges a synthetic backlog into A: product creations, then receipts and sales by several origins, each
    /// carrying its origin's cumulative counter entry, as real operations do.
    func fill(_ directory: DataDirectory, replica: ReplicaID) async throws {
        let store = try NodeStore(path: directory.databaseFile, replica: replica)
        defer { store.close() }
        let originIDs = try (1...origins).map { try ReplicaID("W\($0)") }
        let codes = try (0..<skus).map { try SKU(String(format: "SKU-%05d", $0)) }
        var sequences = [ReplicaID: UInt64]()
        var counters = [String: PNCounter.Entry]()
        var clock = UInt64(Date().timeIntervalSince1970 * 1_000 - 86_400_000) << 16
        var generator = SystemRandomNumberGenerator()
        var page: [LedgerOperation] = []
        func flush() async throws {
            guard !page.isEmpty else { return }
            guard case .merged(let report) = try await store.submit(.merge(page)), report.refused.isEmpty else {
                throw ValidationError("backlog merge refused operations")
            }
            page.removeAll(keepingCapacity: true)
        }
        for index in 0..<operations {
            clock += 1
            let origin = originIDs[index % originIDs.count]
            let sequence = (sequences[origin] ?? 0) + 1
            sequences[origin] = sequence
            let timestamp = HLCTimestamp(rawValue: clock)
            if index < skus {
                page.append(LedgerOperation(
                    origin: origin, sequence: sequence, timestamp: timestamp, kind: .productCreate, sku: codes[index],
                    product: ProductPatch(name: "Item \(index)", description: "", price: .some("9.99"), reorderPoint: .some(nil), deleted: false),
                    actor: "bench", context: VersionVector()))
            } else {
                let code = codes[Int.random(in: 0..<codes.count, using: &generator)]
                let key = "\(code.rawValue)/\(origin.rawValue)"
                var entry = counters[key] ?? PNCounter.Entry()
                let sell = entry.increments > entry.decrements + 2 && Bool.random(using: &generator)
                let quantity = UInt64.random(in: 1...3, using: &generator)
                if sell { entry.decrements += 1 } else { entry.increments += quantity }
                counters[key] = entry
                page.append(LedgerOperation(
                    origin: origin, sequence: sequence, timestamp: timestamp, kind: sell ? .sell : .receive, sku: code,
                    movementID: MovementID.generate(), warehouse: origin, delta: sell ? -1 : Int64(quantity), counter: entry,
                    actor: "bench"))
            }
            if page.count == 5_000 { try await flush() }
        }
        try await flush()
    }
}
