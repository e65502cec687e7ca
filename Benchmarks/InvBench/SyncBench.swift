import ArgumentParser
import AsyncHTTPClient
import CRDT
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
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

        let (apiA, peerA, apiB, peerB) = (try LoopbackPorts.free(), try LoopbackPorts.free(), try LoopbackPorts.free(), try LoopbackPorts.free())
        let directoryA = DataDirectory(path: scratch + "/A")
        let createdA = try await NodeSetup.create(directory: directoryA, warehouse: "A", listen: "127.0.0.1:\(apiA)")
        var configA = createdA.config
        configA.peerListen = "127.0.0.1:\(peerA)"
        configA.antiEntropySeconds = 3_600
        try directoryA.saveConfig(configA)

        let fillStart = now()
        try await fill(directoryA, replica: try ReplicaID("A"))
        let fillSeconds = now() - fillStart
        figure("backlog merged into A (setup)", Double(operations) / fillSeconds, "ops/s")

        let bundle = try JoinBundle.issue(warehouse: "B", hosts: [], directory: directoryA, config: configA)
        let directoryB = DataDirectory(path: scratch + "/B")
        let createdB = try await NodeSetup.create(directory: directoryB, warehouse: "B", listen: "127.0.0.1:\(apiB)", join: bundle)
        var configB = createdB.config
        configB.peerListen = "127.0.0.1:\(peerB)"
        configB.antiEntropySeconds = 3_600
        try directoryB.saveConfig(configB)

        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(PKIFiles(directory: directoryA.tlsDirectory).caCertificatePath))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        let nodeA = try spawnNode(directoryA)
        let nodeB: Process
        let seconds: Double
        let bytes: Int
        do {
            _ = try await waitForStatus(client: client, url: configA.url, token: createdA.adminToken, until: { _ in true })
            let start = now()
            nodeB = try spawnNode(directoryB)
            let status = try await waitForStatus(client: client, url: configB.url, token: createdB.adminToken) { status in
                status.version_vector.values.reduce(0, +) >= UInt64(operations)
            }
            seconds = now() - start
            bytes = status.peers.first { $0.warehouse == "A" }?.bytes_received ?? 0
        } catch {
            nodeA.terminate()
            try await client.shutdown()
            throw error
        }
        let cpuA = cpuSeconds(pid: String(nodeA.processIdentifier))
        let cpuB = cpuSeconds(pid: String(nodeB.processIdentifier))
        let rssA = peakRSSMegabytes(pid: String(nodeA.processIdentifier))
        let rssB = peakRSSMegabytes(pid: String(nodeB.processIdentifier))
        for node in [nodeA, nodeB] {
            node.terminate()
            node.waitUntilExit()
        }
        try await client.shutdown()

        let rate = Double(operations) / seconds
        let perOperation = Double(bytes) / Double(operations)
        let peak = max(rssA, rssB)
        figure("catch-up elapsed (B start to all merged)", seconds, "s")
        figure("sync_ops_per_s", rate, "ops/s", limit: ">= 250000")
        figure("wire_bytes_per_op", perOperation, "bytes", limit: "<= 40")
        figure("CPU node A (serving pages)", cpuA / Double(operations) * 1e6, "µs/op")
        figure("CPU node B (merging)", cpuB / Double(operations) * 1e6, "µs/op")
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

    func spawnNode(_ directory: DataDirectory) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.arguments = ["node", "--data", directory.path]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return process
    }

    struct Status: Decodable {
        struct Peer: Decodable {
            var warehouse: String
            var bytes_received: Int?
        }
        var version_vector: [String: UInt64]
        var peers: [Peer]
    }

    func waitForStatus(client: HTTPClient, url: String, token: String, until done: (Status) -> Bool) async throws -> Status {
        let deadline = now() + 900
        while now() < deadline {
            var request = HTTPClientRequest(url: url + "/v1/status")
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            do {
                let response = try await client.execute(request, timeout: .seconds(10))
                let body = try await response.body.collect(upTo: 1 << 20)
                if response.status == .ok {
                    let status = try JSONDecoder().decode(Status.self, from: Data(body.readableBytesView))
                    if done(status) { return status }
                }
            } catch {
                // Not up yet.
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ValidationError("timed out waiting for \(url)")
    }
}

/// `inv-bench node --data DIR`: serves a node in a child process of the benchmark (hidden).
struct BenchNode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "node", abstract: "Serve a node (used by `inv-bench sync`).", shouldDisplay: false)
    @Option var data: String

    func run() async throws {
        try await NodeServer.run(directory: DataDirectory(path: data), logger: Logger(label: "inv-bench.node"))
    }
}
