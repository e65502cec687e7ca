import Foundation

/// A warehouse node made with the real `inv init`, optionally served by a real `inv serve` on 127.0.0.1.
///
/// Use `defer { node.cleanup() }` right after creating it: that stops the server (SIGTERM, then SIGKILL) and removes
/// the temporary directory however the test ends.
final class NodeFixture {
    let root: TemporaryDirectory
    let warehouse: String
    let port: Int
    /// The data directory (absolute), as `--data` takes it.
    let data: String
    /// The `inv init` run that made it.
    let initResult: InvResult
    private(set) var server: ChildProcess?

    /// - Parameter port: where it listens; a fresh free port when nil.
    init(warehouse: String = "MAD", port: Int? = nil) throws {
        root = try TemporaryDirectory()
        do {
            self.warehouse = warehouse
            self.port = try port ?? freeLocalPort()
            data = root.file("data-\(warehouse)")
            initResult = try runInv(["init", "--data", data, "--warehouse", warehouse, "--listen", "127.0.0.1:\(self.port)"], in: root.path)
        } catch {
            root.cleanup()
            throw error
        }
        guard initResult.status == 0 else {
            root.cleanup()
            throw HarnessError("inv init failed: \(initResult)")
        }
    }

    deinit { cleanup() }

    var url: String { "https://127.0.0.1:\(port)" }
    var caFile: String { data + "/tls/ca.pem" }
    var adminToken: String {
        get throws { try String(contentsOfFile: data + "/admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// Starts `inv serve` and waits (bounded) until `inv status` answers.
    func start(timeout: Duration = .seconds(30)) throws {
        let child = try ChildProcess(inv: ["serve", "--data", data], outputIn: root.path)
        server = child
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = child.wait(upTo: .zero) {
                throw HarnessError("inv serve exited \(status) before answering:\n\(child.stderr)")
            }
            if try runInv(["status", "--data", data], in: root.path, timeout: .seconds(10)).status == 0 { return }
            usleep(100_000)
        }
        throw HarnessError("inv serve did not answer `inv status` within \(timeout):\n\(child.stderr)")
    }

    /// Stops the server: SIGTERM, then SIGKILL after `grace`. Returns its exit status if it exited within `grace`.
    @discardableResult
    func stop(grace: Duration = .seconds(5)) -> Int32? {
        defer { server = nil }
        return server?.stop(signal: SIGTERM, grace: grace)
    }

    func cleanup() {
        stop()
        root.cleanup()
    }

    /// Runs a client command against this node's data directory (`--data` is appended).
    func inv(_ arguments: String..., timeout: Duration = .seconds(30)) throws -> InvResult {
        try runInv(arguments + ["--data", data], in: root.path, timeout: timeout)
    }

    /// Runs `inv` with exactly these arguments (nothing appended), and `environment` added to the inherited one.
    func run(_ arguments: [String], timeout: Duration = .seconds(30), environment: [String: String] = [:]) throws -> InvResult {
        try runInv(arguments, in: root.path, timeout: timeout, environment: environment)
    }
}
