import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Store
import SyncServer
import Synchronization

/// Real-time push: how soon a receipt that node A acknowledged is visible on its peer B.
///
/// A and B run as separate processes with mutual TLS between them and anti-entropy rounds an hour apart, so only
/// the live stream from A (or, without one, the push round that a local commit triggers) can bring a receipt to B
/// in time. Receipts are posted to A at a steady
/// rate; B's `GET /v1/events` stream (which carries a movement once B has committed it) tells when each arrived.
struct PushBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push", abstract: "Real-time push: latency from a receipt acknowledged by node A to its event on peer B.")

    @Option(help: "Receipts posted to node A.") var movements = 2_000
    @Option(help: "Receipts posted per second (paced: each is sent at its time, whatever the answers to the others).") var rate = 200.0
    @Option(help: "Seconds to wait after the last acknowledgement for receipts not yet seen on B.") var drain = 30.0

    func validate() throws {
        guard movements > 0 else { throw ValidationError("--movements must be at least 1") }
        guard rate > 0, rate <= 5_000 else { throw ValidationError("--rate must be above 0 and at most 5000 per second") }
        guard drain >= 0, drain <= 600 else { throw ValidationError("--drain must be 0 to 600 seconds") }
    }

    static let sku = "PUSH-0001"

    struct Measured {
        /// Monotonic time of each receipt's 201, by index.
        var acknowledged: [Double]
        /// Monotonic time each receipt's event arrived on B's stream, by index; nil if it never did.
        var arrived: [Double?]
        var productLatency: Double
        var lagged: Int
        /// CPU seconds each node used from the first receipt to the end of the wait; nil for a node that exited.
        var cpuA: Double?
        var cpuB: Double?
        var postingSeconds: Double
    }

    func run() async throws {
        let scratch = try scratchDirectory("push")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        print(String(
            format: "inv-bench push: %d receipts posted to node A at %.0f/s; latency until each is an event on peer B's stream (mutual TLS, anti-entropy every 3600 s, synchronous=FULL)",
            movements, rate))

        let cluster = try await BenchCluster.create(in: scratch, antiEntropySeconds: 3_600)
        let client = try cluster.makeClient()
        let events = EventLog()
        var nodes: [NodeProcess] = []
        var watcher: Task<Void, Never>?
        let outcome: Result<Measured, any Error>
        do {
            nodes.append(try NodeProcess.spawn(cluster.a.directory))
            nodes.append(try NodeProcess.spawn(cluster.b.directory))
            try await waitUntilPeered(cluster, client: client)
            watcher = Task { await Self.watch(url: cluster.b.config.url, token: cluster.b.adminToken, client: client, into: events) }
            outcome = .success(try await measure(cluster, client: client, events: events, nodes: (nodes[0], nodes[1])))
        } catch {
            outcome = .failure(error)
        }
        // Stopping B also ends its event stream, so the watcher finishes even if cancellation did not reach it.
        watcher?.cancel()
        for node in nodes { await node.stop() }
        await watcher?.value
        try await client.shutdown()
        let measured = try outcome.get()

        let latencies = zip(measured.acknowledged, measured.arrived).compactMap { acked, arrived in arrived.map { ($0 - acked) * 1_000 } }.sorted()
        let seen = latencies.count
        let (p50, p99, worst) = latencies.isEmpty
            ? (Double.nan, Double.nan, Double.nan) : (percentile(latencies, 0.50), percentile(latencies, 0.99), latencies[latencies.count - 1])
        figure("product on B (warm-up, from POST)", measured.productLatency * 1_000, "ms")
        figure("receipts posted (201 from A)", Double(measured.acknowledged.count), "movements")
        figure("posting rate achieved", Double(measured.acknowledged.count) / measured.postingSeconds, "/s")
        figure("receipts seen on B", Double(seen), "movements", limit: "all \(movements)")
        figure("push p50", p50, "ms")
        figure("push_p99_ms", p99, "ms", limit: "< 1000 ms")
        figure("push max", worst, "ms")
        if let best = latencies.first { figure("push min", best, "ms") }
        figure("lagged notices on B's stream", Double(measured.lagged), "notices")
        if let cpu = measured.cpuA { figure("CPU node A per receipt", cpu / Double(movements) * 1e6, "µs") }
        if let cpu = measured.cpuB { figure("CPU node B per receipt", cpu / Double(movements) * 1e6, "µs") }
        print(String(format: "RESULT push_p50_ms=%.1f push_p99_ms=%.1f push_max_ms=%.1f seen=%d/%d", p50, p99, worst, seen, movements))
    }

    /// Waits until each node has finished a round with the other. A starts its loop for B only once B's hello has
    /// told it about B (membership is re-read every second), so both must be checked.
    func waitUntilPeered(_ cluster: BenchCluster, client: HTTPClient) async throws {
        for (node, peer) in [(cluster.a, "B"), (cluster.b, "A")] {
            _ = try await NodeStatus.wait(client: client, url: node.config.url, token: node.adminToken, timeout: 60) { status in
                // Nodes with live streams are peered once the stream from the peer is open too.
                status.peers.contains {
                    $0.warehouse == peer && $0.reachable && $0.lastSync != nil && $0.streamConnected != false
                }
            }
        }
    }

    func measure(_ cluster: BenchCluster, client: HTTPClient, events: EventLog, nodes: (a: NodeProcess, b: NodeProcess)) async throws -> Measured {
        let a = cluster.a
        try await events.waitUntil(timeout: 10, "B's event stream to open") { $0.connected }

        // Warm-up: the product, created on A, must reach B by a push before receipts for it can be merged there.
        let productStart = now()
        let product = try await Self.post(client, a.config.url + "/v1/products", token: a.adminToken, body: ProductBody(sku: Self.sku, name: "Push bench"))
        guard product == .created else { throw ValidationError("creating the product on A answered HTTP \(product.code)") }
        try await events.waitUntil(timeout: 30, "the product to reach B") { $0.products.contains(Self.sku) }
        let productLatency = now() - productStart

        let ids = (0..<movements).map { _ in MovementID.generate() }
        var index = [String: Int](minimumCapacity: movements)
        for (position, id) in ids.enumerated() { index[id] = position }
        events.expect(index)

        let (cpuA, cpuB) = (cpuSeconds(pid: nodes.a.pid), cpuSeconds(pid: nodes.b.pid))
        let url = a.config.url + "/v1/movements"
        let token = a.adminToken
        let start = now() + 0.01
        let acknowledged = try await withThrowingTaskGroup(of: (Int, Double).self) { group in
            for position in 0..<movements {
                // Open loop: each receipt leaves at its own time, so a slow answer does not delay the next one.
                let wait = start + Double(position) / rate - now()
                if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
                let body = ReceiptBody(type: "receive", sku: Self.sku, quantity: 1, id: ids[position])
                group.addTask {
                    let status = try await Self.post(client, url, token: token, body: body)
                    guard status == .created else { throw ValidationError("receipt \(position) answered HTTP \(status.code)") }
                    return (position, now())
                }
            }
            var times = [Double](repeating: 0, count: movements)
            for try await (position, acked) in group { times[position] = acked }
            return times
        }
        let lastAck = acknowledged.max() ?? now()
        let postingSeconds = lastAck - start

        // Bounded: whatever has not arrived `drain` seconds after the last acknowledgement is reported as unseen.
        let deadline = lastAck + drain
        while now() < deadline, !events.read({ $0.arrived.count == movements || $0.ended != nil }) {
            try await Task.sleep(for: .milliseconds(10))
        }
        let cpuUsedA = nodes.a.isRunning ? cpuSeconds(pid: nodes.a.pid) - cpuA : nil
        let cpuUsedB = nodes.b.isRunning ? cpuSeconds(pid: nodes.b.pid) - cpuB : nil
        let (arrivedByIndex, lagged, ended) = events.read { state in
            ((0..<movements).map { state.arrived[$0] }, state.lagged, state.ended)
        }
        if let ended, arrivedByIndex.contains(nil) { print("warning: B's event stream ended early: \(ended)") }
        return Measured(
            acknowledged: acknowledged, arrived: arrivedByIndex, productLatency: productLatency, lagged: lagged,
            cpuA: cpuUsedA, cpuB: cpuUsedB, postingSeconds: postingSeconds)
    }

    struct ProductBody: Encodable {
        var sku: String
        var name: String
    }

    struct ReceiptBody: Encodable {
        var type: String
        var sku: String
        var quantity: Int64
        var id: String
    }

    static func post(_ client: HTTPClient, _ url: String, token: String, body: some Encodable) async throws -> HTTPResponseStatus {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        let response = try await client.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        return response.status
    }

    /// Reads `GET /v1/events` on `url` into `log` until the stream ends, fails or the task is cancelled; the
    /// time recorded for an event is when the chunk holding its last line arrived.
    static func watch(url: String, token: String, client: HTTPClient, into log: EventLog) async {
        do {
            var request = HTTPClientRequest(url: url + "/v1/events")
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Accept", value: "text/event-stream")
            let response = try await client.execute(request, timeout: .seconds(10))
            guard response.status == .ok else { throw ValidationError("GET /v1/events answered HTTP \(response.status.code)") }
            var parser = ServerSentEvents()
            for try await chunk in response.body {
                let arrived = now()
                for event in parser.feed(chunk) { log.record(event, at: arrived) }
            }
            log.end("the stream closed")
        } catch {
            log.end(String(describing: error))
        }
    }
}

extension PushBench {
    /// What the benchmark saw on B's event stream, shared between the stream's reader and the measuring task.
    final class EventLog: Sendable {
        struct State {
            var connected = false
            var products: Set<String> = []
            /// Position of each expected receipt id.
            var expected: [String: Int] = [:]
            /// First arrival of each expected receipt, by position.
            var arrived: [Int: Double] = [:]
            var lagged = 0
            /// Why the stream ended, once it has.
            var ended: String?
        }

        private let state = Mutex(State())
        /// Whose stream this is, for messages.
        let node: String

        init(node: String = "B") { self.node = node }

        func expect(_ positions: [String: Int]) { state.withLock { $0.expected = positions } }

        func read<T>(_ body: (State) -> T) -> T { state.withLock { body($0) } }

        func end(_ reason: String) { state.withLock { $0.ended = $0.ended ?? reason } }

        func record(_ event: ServerSentEvents.Event, at time: Double) {
            struct Item: Decodable {
                var id: String
                var sku: String
            }
            switch event.name {
            case "connected": state.withLock { $0.connected = true }
            case "lagged": state.withLock { $0.lagged += 1 }
            case "movement", "product":
                let item: Item
                do { item = try JSONDecoder().decode(Item.self, from: Data(event.data.utf8)) } catch {
                    // The node's own event did not decode: a bug to report, not a receipt to wait for.
                    return end("undecodable \(event.name) event: \(error)")
                }
                state.withLock { state in
                    if event.name == "product" {
                        state.products.insert(item.sku)
                    } else if let position = state.expected[item.id], state.arrived[position] == nil {
                        state.arrived[position] = time
                    }
                }
            default: break
            }
        }

        /// Polls every 10 ms until `condition` holds.
        ///
        /// - Throws: `ValidationError` after `timeout` seconds, or at once if the stream has ended.
        func waitUntil(timeout: Double, _ what: String, _ condition: (State) -> Bool) async throws {
            let deadline = now() + timeout
            while now() < deadline {
                let (done, ended) = read { (condition($0), $0.ended) }
                if done { return }
                if let ended { throw ValidationError("\(node)'s event stream ended while waiting for \(what): \(ended)") }
                try await Task.sleep(for: .milliseconds(10))
            }
            throw ValidationError("timed out after \(Int(timeout)) s waiting for \(what)")
        }
    }

    /// An incremental reader of a `text/event-stream` body: `event:` and `data:` lines up to a blank line make one
    /// event. The stream's opening comment (`: connected to ...`) is reported as an event named `connected`; other
    /// comments (heartbeats) are skipped.
    struct ServerSentEvents {
        struct Event {
            var name: String
            var data: String
        }

        private var pending: [UInt8] = []
        private var name = "message"
        private var data: [String] = []
        private var opened = false

        /// The events completed by `chunk`.
        mutating func feed(_ chunk: ByteBuffer) -> [Event] {
            pending += chunk.readableBytesView
            var events: [Event] = []
            var lineStart = pending.startIndex
            while let newline = pending[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[lineStart..<newline], as: UTF8.self)
                lineStart = newline + 1
                if line.isEmpty {
                    if !data.isEmpty { events.append(Event(name: name, data: data.joined(separator: "\n"))) }
                    name = "message"
                    data = []
                } else if line.hasPrefix(":") {
                    if !opened, line.hasPrefix(": connected") { events.append(Event(name: "connected", data: "")) }
                    opened = true
                } else if line.hasPrefix("event: ") {
                    name = String(line.dropFirst(7))
                } else if line.hasPrefix("data: ") {
                    data.append(String(line.dropFirst(6)))
                }
            }
            pending.removeSubrange(pending.startIndex..<lineStart)
            return events
        }
    }
}
