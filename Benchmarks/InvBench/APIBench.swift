import ArgumentParser
import AsyncHTTPClient
import CRDT
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOSSL
import Store
import SyncServer

/// Receipts posted over HTTPS to a live node, against a route that decodes the same body and answers at once.
struct APIBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api", abstract: "HTTPS API throughput and latency against the HTTP layer's own limit.")

    @Option(help: "Requests per phase.") var requests = 40_000
    @Option(help: "Concurrent keep-alive HTTPS clients.") var clients = 32
    @Option(help: "Distinct SKUs.") var skus = 10_000

    func run() async throws {
        let scratch = try scratchDirectory("api")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let port = try LoopbackPorts.free()
        let directory = DataDirectory(path: scratch + "/node")
        let created = try await NodeSetup.create(directory: directory, warehouse: "BENCH", listen: "127.0.0.1:\(port)")
        let node = try InvNode(directory: directory)
        let credentials = ReloadableCredentials(try PKIFiles(directory: directory.tlsDirectory).loadNodeCredentials())
        let codes = try (0..<skus).map { try SKU(String(format: "SKU-%05d", $0)) }
        for chunk in stride(from: 0, to: codes.count, by: 500) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for code in codes[chunk..<min(chunk + 500, codes.count)] {
                    group.addTask { _ = try await node.store.submit(.createProduct(ProductDraft(sku: code, name: "Item"), actor: "bench")) }
                }
                try await group.waitForAll()
            }
        }
        print("inv-bench api: \(requests) requests per phase, \(clients) keep-alive HTTPS clients, \(skus) SKUs, synchronous=FULL")

        let running = AsyncStream<Void>.makeStream()
        let app = try buildApplication(
            node: node, credentials: credentials, host: "127.0.0.1", port: port,
            extraRoutes: { group in
                // The HTTP layer's own limit: same TLS, auth middleware and JSON decoding; no store.
                group.post("noop") { request, context -> Response in
                    var request = request
                    let body = try await request.collectBody(upTo: context.maxUploadSize)
                    let decoded = try JSONDecoder().decode(ReceiptBody.self, from: Data(body.readableBytesView))
                    var headers = HTTPFields()
                    headers[.contentType] = "application/json; charset=utf-8"
                    return Response(status: .created, headers: headers, body: .init(byteBuffer: ByteBuffer(string: #"{"sku":"\#(decoded.sku)"}"#)))
                }
            },
            onServerRunning: { _ in running.continuation.yield() })
        let server = Task { try await app.run() }
        for await _ in running.stream { break }

        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(PKIFiles(directory: directory.tlsDirectory).caCertificatePath))
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: clients)
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let base = "https://127.0.0.1:\(port)/v1"
        let token = created.adminToken

        _ = try await phase(client: client, url: base + "/noop", token: token, codes: codes, count: 2_000)  // warm-up
        let before = node.store.writer.stats
        let movements = try await phase(client: client, url: base + "/movements", token: token, codes: codes, count: requests)
        let after = node.store.writer.stats
        let noop = try await phase(client: client, url: base + "/noop", token: token, codes: codes, count: requests)
        try await client.shutdown()
        server.cancel()
        _ = await server.result
        let held = try node.store.reader.operationCount()
        node.close()

        let ratio = movements.perSecond / noop.perSecond
        figure("receipts committed", Double(held - skus), "movements")
        figure("api_movements_per_s", movements.perSecond, "req/s")
        figure("api p50", movements.p50, "ms")
        figure("api_p99_ms", movements.p99, "ms", limit: "<= 10 ms")
        figure("api CPU per request", movements.cpuMicroseconds, "µs (whole process, clients included)")
        figure("api CPU in use", movements.cores, "cores")
        figure("writer commits (receipt phase)", Double(after.batches - before.batches), "commits")
        figure("mean group commit", Double(after.commands - before.commands) / Double(max(after.batches - before.batches, 1)), "writes/commit")
        figure("noop_per_s", noop.perSecond, "req/s", limit: "the HTTP layer's own limit")
        figure("noop p50", noop.p50, "ms")
        figure("noop p99", noop.p99, "ms")
        figure("noop CPU per request", noop.cpuMicroseconds, "µs (whole process, clients included)")
        figure("noop CPU in use", noop.cores, "cores")
        figure("ratio", ratio, "", limit: ">= 0.5")
        figure("peak_rss_mb", peakRSSMegabytes(), "MiB")
        print(String(format: "RESULT api_movements_per_s=%.0f api_p99_ms=%.2f noop_per_s=%.0f ratio=%.2f", movements.perSecond, movements.p99, noop.perSecond, ratio))
    }

    struct ReceiptBody: Codable {
        var type: String
        var sku: String
        var quantity: Int64
    }

    struct PhaseResult {
        var perSecond: Double
        var p50: Double
        var p99: Double
        /// CPU (user + system, this whole process: server and clients) per request, in µs.
        var cpuMicroseconds: Double
        /// CPU used over the phase's wall time, in cores (2 on this machine means saturated).
        var cores: Double
    }

    func phase(client: HTTPClient, url: String, token: String, codes: [SKU], count: Int) async throws -> PhaseResult {
        let perClient = count / clients
        let start = now()
        let cpuStart = cpuSeconds()
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for worker in 0..<clients {
                group.addTask {
                    var local: [Double] = []
                    local.reserveCapacity(perClient)
                    var generator = SystemRandomNumberGenerator()
                    for _ in 0..<perClient {
                        let code = codes[Int.random(in: 0..<codes.count, using: &generator)]
                        var request = HTTPClientRequest(url: url)
                        request.method = .POST
                        request.headers.add(name: "Authorization", value: "Bearer \(token)")
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(ReceiptBody(type: "receive", sku: code.rawValue, quantity: 1))))
                        let began = now()
                        let response = try await client.execute(request, timeout: .seconds(30))
                        _ = try await response.body.collect(upTo: 1 << 20)
                        guard response.status == .created else { throw ValidationError("worker \(worker): HTTP \(response.status.code)") }
                        local.append((now() - began) * 1_000)
                    }
                    return local
                }
            }
            return try await group.reduce(into: [Double]()) { $0 += $1 }
        }
        let elapsed = now() - start
        let cpu = cpuSeconds() - cpuStart
        let sorted = latencies.sorted()
        return PhaseResult(
            perSecond: Double(sorted.count) / elapsed, p50: percentile(sorted, 0.50), p99: percentile(sorted, 0.99),
            cpuMicroseconds: cpu / Double(sorted.count) * 1e6, cores: cpu / elapsed)
    }
}
