import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Store
import SyncServer

/// `inv demo`: three warehouse nodes on 127.0.0.1, made as a user would, and the story of an outage.
///
/// Every node is a real `inv serve` process with its own SQLite database, certificates from one cluster CA and a
/// join bundle; the outage is `inv sync --pause` on one node. Every process started here is stopped, and the
/// temporary directory removed, on success, on failure and on Ctrl-C.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run three warehouses through a WAN outage and watch them converge.")

    @Option(help: "Keep the nodes' data here instead of a temporary directory (it must not exist).") var keep: String?

    func run() async throws {
        let root = keep ?? FileManager.default.temporaryDirectory.appendingPathComponent("inv-demo-\(getpid())").path
        let cleanup = DemoCleanup(root: keep == nil ? root : nil)
        cleanup.installInterruptHandler()
        defer { cleanup.run() }
        do {
            try await story(root: root, cleanup: cleanup)
        } catch {
            cleanup.run()
            // Ctrl-C stopped the nodes under the story: its error is a consequence, not news. Exit as interrupted.
            if cleanup.wasInterrupted { throw ExitCode(130) }
            throw error
        }
    }

    private func story(root: String, cleanup: DemoCleanup) async throws {
        let names = ["MAD", "SEV", "BIO"]
        func step(_ text: String) { print("\n== \(text)") }
        func say(_ text: String) { print("   \(text)") }

        step("Three warehouses on 127.0.0.1, in \(root)")
        var ports: [String: Int] = [:]
        for name in names { ports[name] = try LoopbackPorts.freePair() }
        let mad = DataDirectory(path: root + "/MAD")
        let created = try await NodeSetup.create(directory: mad, warehouse: "MAD", name: "Madrid", listen: "127.0.0.1:\(ports["MAD"]!)")
        say("MAD: inv init — a new cluster CA, MAD's certificate, an admin token")
        var tokens = ["MAD": created.adminToken]
        var urls = ["MAD": created.config.url]
        for (name, title) in [("SEV", "Sevilla"), ("BIO", "Bilbao")] {
            let bundle = try JoinBundle.issue(warehouse: name, hosts: ["127.0.0.1"], directory: mad, config: created.config)
            try bundle.write(to: root + "/\(name)-join.json")
            let node = try await NodeSetup.create(
                directory: DataDirectory(path: root + "/\(name)"), warehouse: name, name: title, listen: "127.0.0.1:\(ports[name]!)",
                join: try JoinBundle.read(from: root + "/\(name)-join.json"))
            tokens[name] = node.adminToken
            urls[name] = node.config.url
            say("\(name): inv cert issue \(name) on MAD, then inv init --join — certificate signed by the cluster CA")
        }
        for name in names { try cleanup.start(node: name, data: root + "/\(name)") }
        say("started: inv serve for MAD, SEV and BIO (HTTPS API + mutual-TLS peer sync)")

        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(PKIFiles(directory: mad.tlsDirectory).caCertificatePath))
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.connectionPool.retryConnectionEstablishment = false
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            try await scenario(http: http, names: names, urls: urls, tokens: tokens, root: root)
        } catch {
            do { try await http.shutdown() } catch { /* the story's error matters more */ }
            throw error
        }
        try await http.shutdown()
    }

    private func scenario(http: HTTPClient, names: [String], urls: [String: String], tokens: [String: String], root: String) async throws {
        func step(_ text: String) { print("\n== \(text)") }
        func say(_ text: String) { print("   \(text)") }
        func node(_ name: String) -> NodeClient {
            NodeClient(target: .init(url: urls[name]!, caFile: "", token: tokens[name]!, dataPath: root + "/\(name)"), http: http)
        }
        for name in names { try await DemoWait.untilUp(node(name)) }

        step("MAD adds the catalogue; each warehouse receives its stock")
        for (sku, title, price, reorder) in [("CHAIR-01", "Oak chair", "49.90", 5), ("TABLE-01", "Oak table", "189.00", 2), ("LAMP-01", "Desk lamp", "24.50", 5)] {
            _ = try await node("MAD").send(
                .POST, "/v1/products", json: API.ProductBody(sku: sku, name: title, price: price, reorderPoint: Int64(reorder)))
            say("MAD: product \(sku) \(title) at \(price), reorder point \(reorder)")
        }
        try await DemoWait.converged(names.map(node), label: "catalogue")
        for (name, sku, quantity) in [("MAD", "CHAIR-01", Int64(40)), ("MAD", "TABLE-01", 10), ("SEV", "CHAIR-01", 12), ("SEV", "TABLE-01", 4), ("BIO", "LAMP-01", 20)] {
            let movement = try await move(node(name), .receive, sku, quantity)
            say("\(name): \(movement.summary)")
        }
        try await DemoWait.converged(names.map(node), label: "receipts")
        say("all three nodes hold the same ledger (real-time push over mutual TLS)")

        step("SEV's WAN link goes down (inv sync --pause on SEV): it keeps selling on its own")
        _ = try await node("SEV").send(.PUT, "/v1/sync/paused", json: API.SyncPaused(paused: true))
        say("SEV: \(try await move(node("SEV"), .sell, "CHAIR-01", 8).summary)")
        say("SEV: \(try await move(node("SEV"), .sell, "TABLE-01", 3).summary)")
        do {
            _ = try await move(node("SEV"), .sell, "CHAIR-01", 10)
        } catch {
            say("SEV: selling 10 more chairs is refused, offline too: \(error)")
        }
        _ = try await node("MAD").send(.PATCH, "/v1/products/CHAIR-01", json: API.ProductUpdate(price: "44.90"))
        say("MAD: the price of CHAIR-01 is now 44.90")
        let transfer = try await move(node("MAD"), .transfer, "CHAIR-01", 10, to: "SEV")
        say("MAD: ships 10 x CHAIR-01 to SEV — in transit, transfer \(transfer.id)")
        say("BIO: \(try await move(node("BIO"), .sell, "LAMP-01", 17).summary)")
        let alerts = try node("BIO").decode([API.Alert].self, try await node("BIO").send(.GET, "/v1/alerts"))
        for alert in alerts { say("BIO: restock alert — \(alert.sku) at \(alert.warehouse) is down to \(alert.quantity) (reorder point \(alert.reorderPoint))") }
        let seen = try node("MAD").decode([API.StockRow].self, try await node("MAD").send(.GET, "/v1/stock", query: [("scope", "all"), ("sku", "CHAIR-01")]))
        for row in seen where row.warehouse == "SEV" { say("MAD still sees SEV with \(row.quantity) chairs (last heard \(row.lastHeard ?? "-"))") }

        step("The link returns (inv sync --resume): the nodes exchange only what the others lack")
        _ = try await node("SEV").send(.PUT, "/v1/sync/paused", json: API.SyncPaused(paused: false))
        for name in names {
            let reports = try node(name).decode([PeerSyncer.RoundReport].self, try await node(name).send(.POST, "/v1/sync"))
            say("\(name): " + reports.map { "\($0.peer) \($0.ok ? "+\($0.pulled) merged, \($0.pushed) sent" : "unreachable")" }.joined(separator: "; "))
        }
        try await DemoWait.converged(names.map(node), label: "after the outage")
        let accepted = try node("SEV").decode(
            API.Movement.self, try await node("SEV").send(.POST, "/v1/transfers/\(transfer.id)/accept", json: API.TransferLinesBody()))
        say("SEV: accepts the transfer: \(accepted.quantity) chairs into stock")
        try await DemoWait.converged(names.map(node), label: "after the acceptance")
        let snapshots = try await names.asyncMap { try await DemoWait.snapshotWithoutNode(node($0)) }
        let history = try await names.asyncMap { try await DemoWait.historyCount(node($0)) }
        say("converged: snapshots \(Set(snapshots).count == 1 ? "identical" : "DIFFERENT") on MAD, SEV and BIO; \(history[0]) ledger entries on each")
        let price = try node("BIO").decode(API.Product.self, try await node("BIO").send(.GET, "/v1/products/CHAIR-01")).price ?? "-"
        say("the price MAD set while SEV was away reached every node: CHAIR-01 at \(price)")

        step("Global stock, as every node sees it")
        let rows = try node("SEV").decode([API.StockRow].self, try await node("SEV").send(.GET, "/v1/stock", query: [("scope", "all")]))
        print(Table(headers: ["SKU", "WAREHOUSE", "QUANTITY"], rows: rows.map { [$0.sku, $0.warehouse, String($0.quantity)] }, numeric: [2]).render())
        guard Set(snapshots).count == 1, Set(history).count == 1 else { throw CLIError("the nodes did not converge") }
    }

    private func move(_ node: NodeClient, _ type: MovementType, _ sku: String, _ quantity: Int64, to: String? = nil) async throws -> API.Movement {
        let body = API.MovementBody(type: type, sku: sku, quantity: quantity, to: to)
        return try node.decode(API.Movement.self, try await node.send(.POST, "/v1/movements", json: body))
    }
}

/// Starts and stops the demo's node processes, and removes its directory, exactly once.
///
/// The cleanup runs once, but every caller of ``run()`` returns only after it has finished: Ctrl-C runs it on the
/// signal queue while the story fails on the main task, and the process must not exit before the nodes are stopped
/// and the directory is gone.
final class DemoCleanup: @unchecked Sendable {
    private enum State { case idle, running, finished }

    private let condition = NSCondition()
    private var processes: [Process] = []
    private var state = State.idle
    private var interrupted = false
    private let root: String?
    private var interrupt: (any DispatchSourceSignal)?

    init(root: String?) { self.root = root }

    /// Whether Ctrl-C (SIGINT) started the cleanup.
    var wasInterrupted: Bool { condition.withLock { interrupted } }

    /// Starts `inv serve` for one node; refused once the cleanup has begun, so no node outlives it.
    func start(node name: String, data: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.arguments = ["serve", "--data", data, "--log-level", "warning"]
        process.standardOutput = FileHandle.nullDevice
        let log = data + "/../\(name).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: log)
        try condition.withLock {
            guard state == .idle else { throw CLIError("the demo is stopping") }
            try process.run()
            processes.append(process)
        }
    }

    func installInterruptHandler() {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [self] in
            let first = condition.withLock { () -> Bool in
                defer { interrupted = true }
                return !interrupted
            }
            guard first else { return }
            FileHandle.standardError.write(Data("\ninterrupted: stopping the demo's nodes\n".utf8))
            run()
            _exit(130)
        }
        source.resume()
        interrupt = source
    }

    /// Stops every node (SIGTERM, then SIGKILL after 10 s) and removes the directory; returns when that is done,
    /// whichever caller did it.
    func run() {
        let toStop: [Process]? = condition.withLock {
            switch state {
            case .idle:
                state = .running
                return processes
            case .running:
                while state != .finished { condition.wait() }
                return nil
            case .finished:
                return nil
            }
        }
        guard let toStop else { return }
        for process in toStop where process.isRunning { process.terminate() }
        let deadline = Date().addingTimeInterval(10)
        for process in toStop {
            while process.isRunning && Date() < deadline { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        if let root { try? FileManager.default.removeItem(atPath: root) }
        condition.withLock {
            state = .finished
            condition.broadcast()
        }
    }
}

enum DemoWait {
    static func untilUp(_ node: NodeClient) async throws {
        for _ in 0..<200 {
            do {
                _ = try await node.send(.GET, "/v1/status")
                return
            } catch {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw CLIError("a demo node did not start in 20 s")
    }

    /// Waits (bounded) until every node holds the same version vector.
    static func converged(_ nodes: [NodeClient], label: String) async throws {
        for _ in 0..<300 {
            var vectors: [[String: UInt64]] = []
            for node in nodes { vectors.append(try node.decode(API.Status.self, try await node.send(.GET, "/v1/status")).versionVector) }
            if Set(vectors).count == 1 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CLIError("the nodes did not converge (\(label)) within 30 s")
    }

    static func snapshotWithoutNode(_ node: NodeClient) async throws -> String {
        let text = String(decoding: try await node.send(.GET, "/v1/snapshot").body, as: UTF8.self)
        return text.replacingOccurrences(of: #""node":"[A-Za-z0-9_-]*","#, with: "", options: .regularExpression)
    }

    static func historyCount(_ node: NodeClient) async throws -> Int {
        var count = 0
        var cursor: String?
        repeat {
            let page = try node.decode(API.HistoryPage.self, try await node.send(.GET, "/v1/history", query: [("limit", "1000"), ("cursor", cursor)]))
            count += page.movements.count
            cursor = page.nextCursor
        } while cursor != nil
        return count
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
