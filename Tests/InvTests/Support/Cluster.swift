import Foundation

/// Several warehouse nodes of one cluster, each made by the real `inv init` and served by a real `inv serve` on
/// 127.0.0.1 that tests stop (a partition), kill and restart at will.
///
/// The first node founds the cluster; the others join it with bundles from `inv cert issue`. Every node's
/// `anti_entropy_seconds` is lowered in its `config.json` before it is first served, so background rounds run often.
/// Use `defer { cluster.cleanup() }` right after creating it: that SIGKILLs any server still running and removes the
/// one temporary directory that holds every node, however the test ends.
///
/// Made with ``NetworkNamespaces``, the n-th node lives in the n-th namespace: it listens on that namespace's own
/// address (port 8443, its peer listener 8444), its certificate names that address, and every `inv` command for it
/// runs there; the cluster's cleanup then removes the namespaces too, after the servers.
final class Cluster {
    let root: TemporaryDirectory
    let antiEntropySeconds: Double
    let network: NetworkNamespaces?
    private(set) var nodes: [ClusterNode] = []
    private var usedPorts: Set<Int> = []

    init(antiEntropySeconds: Double = 1, network: NetworkNamespaces? = nil) throws {
        root = try TemporaryDirectory()
        self.antiEntropySeconds = antiEntropySeconds
        self.network = network
    }

    deinit { cleanup() }

    subscript(warehouse: String) -> ClusterNode? { nodes.first { $0.warehouse == warehouse } }

    /// Creates the cluster's first node (and its CA) with `inv init`.
    func found(_ warehouse: String) throws -> ClusterNode {
        try add(warehouse, join: nil)
    }

    /// Creates a node that joins through `sponsor`: `inv cert issue` there, then `inv init --join`.
    func join(_ warehouse: String, via sponsor: ClusterNode) throws -> ClusterNode {
        let bundle = root.file("\(warehouse).join")
        // In its own namespace, the new node is reached at that namespace's address: its certificate must name it.
        let host = network.map { ["--host", $0.address(of: nodes.count)] } ?? []
        let issued = try sponsor.run(["cert", "issue", warehouse, "--out", bundle, "--data", sponsor.data] + host)
        guard issued.status == 0 else { throw HarnessError("inv cert issue failed: \(issued)") }
        return try add(warehouse, join: bundle)
    }

    private func add(_ warehouse: String, join bundle: String?) throws -> ClusterNode {
        let node: ClusterNode
        if let network {
            guard nodes.count < network.count else { throw HarnessError("\(network.count) namespaces for \(nodes.count + 1) nodes") }
            // Each namespace has its own ports: every node can take the same.
            node = ClusterNode(
                warehouse: warehouse, host: network.address(of: nodes.count), port: 8443, data: root.file("data-\(warehouse)"),
                root: root.path, namespace: network.names[nodes.count])
        } else {
            node = ClusterNode(warehouse: warehouse, port: try freshPort(), data: root.file("data-\(warehouse)"), root: root.path)
        }
        let join = bundle.map { ["--join", $0] } ?? []
        let created = try node.run(["init", "--data", node.data, "--warehouse", warehouse, "--listen", "\(node.host):\(node.port)"] + join)
        guard created.status == 0 else { throw HarnessError("inv init \(warehouse) failed: \(created)") }
        try node.setConfig("anti_entropy_seconds", antiEntropySeconds)
        nodes.append(node)
        return node
    }

    /// Runs `inv sync` on `nodes` (all at once) until each lists every one of them as a member, so each keeps a
    /// stream from every other; bounded by `rounds`.
    ///
    /// A node that joined knows only its sponsor at first; it learns the others from the sponsor's hello.
    func introduce(_ nodes: [ClusterNode], rounds: Int = 10) throws {
        let everyone = Set(nodes.map(\.warehouse))
        var known: [String: Set<String>] = [:]
        for _ in 1...rounds {
            known = try Dictionary(uniqueKeysWithValues: nodes.map { ($0.warehouse, Set(try $0.members().keys)) })
            if known.values.allSatisfy({ $0.isSuperset(of: everyone) }) { return }
            _ = try runInvConcurrently(nodes.map { ($0, ["sync"]) }, timeout: .seconds(120))
        }
        let missing = known.sorted { $0.key < $1.key }.map { "\($0.key) lacks \(everyone.subtracting($0.value).sorted())" }
        throw HarnessError("members unknown after \(rounds) rounds of inv sync: \(missing.joined(separator: "; "))")
    }

    /// Waits (bounded), without `inv sync`, until each of `nodes` holds at least `targets` (origin → how much of
    /// its ledger), polling `inv status`.
    ///
    /// - Returns: what each node still lacked at the deadline (`"N03 holds N07:4 of 5"`), empty when all arrived.
    func lagging(_ nodes: [ClusterNode], behind targets: [String: Int64], timeout: Duration) throws -> [String] {
        var behind: [String] = []
        try waitUntil(timeout, every: .milliseconds(250)) {
            behind = []
            for node in nodes {
                let vector = try node.status()["version_vector"]
                for (origin, target) in targets.sorted(by: { $0.key < $1.key }) {
                    let held = vector?[origin]?.int ?? 0
                    if held < target { behind.append("\(node.warehouse) holds \(origin):\(held) of \(target)") }
                }
            }
            return behind.isEmpty
        }
        return behind
    }

    /// The live streams not open among `nodes`, as `"FROM→TO"`, from each node's `inv status` (one call per node).
    func closedStreams(_ nodes: [ClusterNode]) throws -> [String] {
        try nodes.flatMap { node in
            let peers = try node.status()["peers"]?.array ?? []
            return nodes.filter { $0 !== node }.compactMap { peer in
                let open = peers.contains { $0["warehouse"]?.string == peer.warehouse && $0["stream_connected"] == .bool(true) }
                return open ? nil : "\(peer.warehouse)→\(node.warehouse)"
            }
        }
    }

    /// A port P with P + 1 free that no node of this cluster uses yet.
    private func freshPort() throws -> Int {
        for _ in 0..<20 {
            let port = try freeLocalPort()
            if usedPorts.isDisjoint(with: [port - 1, port, port + 1]) {
                usedPorts.formUnion([port, port + 1])
                return port
            }
        }
        throw HarnessError("no fresh pair of ports")
    }

    func cleanup() {
        for node in nodes { node.crash() }
        network?.cleanup()
        root.cleanup()
    }

    /// Runs `inv sync` on every node, then compares their snapshots, until the snapshots are equal (apart from
    /// `"node"`); bounded by `rounds` and `timeout`.
    ///
    /// - Parameter concurrently: run each round's `inv sync`s all at once rather than one node after the other: with
    ///   real network cuts a node's sync may wait out its timeout for a peer behind a dead connection, and those
    ///   waits then overlap.
    /// - Returns: the common snapshot, without `"node"`.
    /// - Throws: `HarnessError` with the last snapshots and sync reports when they do not converge.
    @discardableResult
    func converge(_ nodes: [ClusterNode], rounds: Int = 30, timeout: Duration = .seconds(90), concurrently: Bool = false) throws -> JSON {
        let deadline = ContinuousClock.now + timeout
        var reports: [String] = []
        var snapshots: [JSON] = []
        for round in 1...rounds {
            let results = concurrently
                ? try runInvConcurrently(nodes.map { ($0, ["sync", "--json"]) }, timeout: .seconds(120))
                : try nodes.map { try $0.inv("sync", "--json", timeout: .seconds(120)) }
            reports = zip(nodes, results).map { node, result in
                "\(node.warehouse) round \(round): exit \(result.status) \(result.stdout)\(result.stderr)"
            }
            snapshots = try nodes.map { try $0.snapshot() }
            if snapshots.allSatisfy({ $0 == snapshots[0] }) { return snapshots[0] }
            if ContinuousClock.now > deadline { break }
            usleep(200_000)
        }
        let vectors = zip(nodes, snapshots).map { "\($0.warehouse): \($1["version_vector"] ?? nil)" }
        throw HarnessError("""
            \(nodes.map(\.warehouse)) did not converge within \(rounds) rounds / \(timeout)
            version vectors: \(vectors.joined(separator: "; "))
            last sync reports:
            \(reports.joined(separator: "\n"))
            snapshots:
            \(zip(nodes, snapshots).map { "\($0.warehouse): \($1)" }.joined(separator: "\n"))
            """)
    }
}

/// One node of a ``Cluster``: its data directory and ports, and the `inv serve` process while it runs.
final class ClusterNode {
    let warehouse: String
    /// The address it listens on.
    let host: String
    /// The API port; the peer-sync listener is on `port + 1`.
    let port: Int
    let data: String
    /// Where client commands run and server logs are written.
    let root: String
    /// The network namespace its server and every `inv` command for it run in; the machine's own when nil.
    let namespace: String?
    private(set) var server: ChildProcess?
    /// Servers of earlier lives, kept for their logs.
    private(set) var pastServers: [ChildProcess] = []

    init(warehouse: String, host: String = "127.0.0.1", port: Int, data: String, root: String, namespace: String? = nil) {
        self.warehouse = warehouse
        self.host = host
        self.port = port
        self.data = data
        self.root = root
        self.namespace = namespace
    }

    deinit { crash() }

    var url: String { "https://\(host):\(port)" }
    /// The URL of its mutual-TLS sync listener, as `inv peer add` takes it.
    var peerURL: String { "https://\(host):\(port + 1)" }
    var isRunning: Bool { server?.process.isRunning ?? false }

    /// Sets one key of `config.json` (the node must not be running).
    func setConfig(_ key: String, _ value: Any) throws {
        let path = data + "/config.json"
        let text = try Data(contentsOf: URL(fileURLWithPath: path))
        guard var config = try JSONSerialization.jsonObject(with: text) as? [String: Any] else {
            throw HarnessError("\(path) is not an object")
        }
        config[key] = value
        let updated = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try updated.write(to: URL(fileURLWithPath: path))
        chmod(path, 0o600)
    }

    /// Starts `inv serve` (after the previous server, if any, has exited) and waits, bounded, until `inv status`
    /// answers.
    func start(timeout: Duration = .seconds(30)) throws {
        if let previous = server {
            guard previous.wait(upTo: .seconds(10)) != nil else {
                throw HarnessError("\(warehouse): the previous server is still running 10 s after it was told to stop")
            }
            pastServers.append(previous)
            server = nil
        }
        let child = try ChildProcess(inv: ["serve", "--data", data], outputIn: root, namespace: namespace)
        server = child
        let deadline = ContinuousClock.now + timeout
        for _ in 0..<1_000 where ContinuousClock.now < deadline {
            if let status = child.wait(upTo: .zero) {
                throw HarnessError("\(warehouse): inv serve exited \(status) before answering:\n\(child.stderr)")
            }
            if try run(["status", "--data", data], timeout: .seconds(10)).status == 0 { return }
            usleep(50_000)
        }
        throw HarnessError("\(warehouse): inv serve did not answer `inv status` within \(timeout):\n\(child.stderr)")
    }

    /// SIGTERM, and waits (bounded) for the graceful exit. Returns the exit status, or nil if it had to be killed.
    @discardableResult
    func stop(grace: Duration = .seconds(10)) -> Int32? {
        guard let server else { return nil }
        let status = server.stop(signal: SIGTERM, grace: grace)
        pastServers.append(server)
        self.server = nil
        return status
    }

    /// Sends SIGTERM and returns at once; ``start(timeout:)`` waits for the exit before serving again.
    func beginStop() {
        guard let server, server.process.isRunning else { return }
        kill(server.pid, SIGTERM)
    }

    /// SIGKILL: the process gets no chance to clean up (a crash, or a power cut for the node).
    func crash() {
        guard let server else { return }
        server.stop(signal: SIGKILL, grace: .seconds(5))
        pastServers.append(server)
        self.server = nil
    }

    /// SIGSTOP: the server keeps its sockets open (peers' connections succeed) but answers nothing, like a machine
    /// that hangs; ``thaw()`` resumes it.
    func freeze() {
        guard let server, server.process.isRunning else { return }
        kill(server.pid, SIGSTOP)
    }

    /// SIGCONT: a frozen server resumes where it stopped.
    func thaw() {
        guard let server, server.process.isRunning else { return }
        kill(server.pid, SIGCONT)
    }

    /// The stderr of every server this node ran, for failure messages.
    var serverLogs: String {
        (pastServers + (server.map { [$0] } ?? [])).map(\.stderr).joined(separator: "--- restart\n")
    }

    /// Runs `inv arguments --data DATA`.
    func inv(_ arguments: String..., timeout: Duration = .seconds(30)) throws -> InvResult {
        try run(arguments + ["--data", data], timeout: timeout)
    }

    /// Runs `inv` with exactly these arguments (and `environment` added to the inherited one).
    func run(_ arguments: [String], timeout: Duration = .seconds(30), environment: [String: String] = [:]) throws -> InvResult {
        try runInv(arguments, in: root, timeout: timeout, environment: environment, namespace: namespace)
    }

    /// Starts `inv arguments --data DATA` and returns at once.
    func launch(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(inv: arguments + ["--data", data], outputIn: root, namespace: namespace)
    }

    /// Runs a client command with `--json` that must succeed, and parses what it printed.
    func json(_ arguments: String..., timeout: Duration = .seconds(60)) throws -> JSON {
        try json(arguments, timeout: timeout)
    }

    func json(_ arguments: [String], timeout: Duration = .seconds(60)) throws -> JSON {
        let result = try run(arguments + ["--json", "--data", data], timeout: timeout)
        guard result.status == 0 else { throw HarnessError("\(warehouse): \(result)") }
        return try JSON.parse(result.stdout)
    }

    /// `inv snapshot --out -`, parsed, without its `"node"` key (the one field that differs between nodes).
    func snapshot() throws -> JSON {
        let result = try run(["snapshot", "--out", "-", "--data", data], timeout: .seconds(60))
        guard result.status == 0 else { throw HarnessError("\(warehouse): \(result)") }
        let document = try JSON.parse(result.stdout)
        guard document["node"] == .string(warehouse), var object = document.object else {
            throw HarnessError("\(warehouse): a snapshot names another node: \(result.stdout.prefix(200))")
        }
        object["node"] = nil
        return .object(object)
    }

    /// Every movement and product operation of `inv history --json`.
    func history(_ filters: String...) throws -> [JSON] {
        let result = try run(["history", "--json", "--data", data] + filters, timeout: .seconds(120))
        guard result.status == 0 else { throw HarnessError("\(warehouse): \(result)") }
        guard let rows = try JSON.parse(result.stdout).array else { throw HarnessError("\(warehouse): history is not an array") }
        return rows
    }

    /// `inv status --json`, parsed.
    func status() throws -> JSON {
        let result = try run(["status", "--json", "--data", data], timeout: .seconds(10))
        guard result.status == 0 else { throw HarnessError("\(warehouse): \(result)") }
        return try JSON.parse(result.stdout)
    }

    /// How much of `origin`'s ledger this node holds: its version vector's entry.
    func held(from origin: String) throws -> Int64 {
        try status()["version_vector"]?[origin]?.int ?? 0
    }

    /// What `inv status` shows of peer `peer` (its stream among others).
    func peerStatus(_ peer: String) throws -> JSON? {
        try status()["peers"]?.array?.first { $0["warehouse"]?.string == peer }
    }

    /// Members as `inv peer list --json` shows them, by warehouse.
    func members() throws -> [String: JSON] {
        let rows = try json("peer", "list").array ?? []
        return Dictionary(rows.compactMap { row in row["warehouse"]?.string.map { ($0, row) } }) { first, _ in first }
    }
}

/// Runs several `inv` commands at once as separate processes and waits for all (each bounded by `timeout`).
func runInvConcurrently(_ jobs: [[String]], in directory: String, timeout: Duration = .seconds(30)) throws -> [InvResult] {
    try awaitAll(jobs.map { try ChildProcess(inv: $0, outputIn: directory) }, timeout: timeout)
}

/// Runs `inv arguments --data DATA` on each of several nodes at once, as separate processes, and waits for all (each
/// bounded by `timeout`).
func runInvConcurrently(_ jobs: [(node: ClusterNode, arguments: [String])], timeout: Duration = .seconds(30)) throws -> [InvResult] {
    try awaitAll(jobs.map { try $0.node.launch($0.arguments) }, timeout: timeout)
}

/// Waits for every child (killing those still running at `timeout`) and removes their output files.
private func awaitAll(_ children: [ChildProcess], timeout: Duration) -> [InvResult] {
    defer {
        for child in children {
            try? FileManager.default.removeItem(atPath: child.stdoutPath)
            try? FileManager.default.removeItem(atPath: child.stderrPath)
        }
    }
    let deadline = ContinuousClock.now + timeout
    return children.map { child in
        if child.wait(upTo: max(deadline - ContinuousClock.now, .zero)) == nil { child.stop(signal: SIGKILL, grace: .seconds(1)) }
        return child.result()
    }
}

/// A small seeded generator (SplitMix64): a randomised test prints its seed, and `INV_TEST_SEED=<seed>` replays it.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `$INV_TEST_SEED` when set, else a fresh seed.
    static func testSeed() -> UInt64 {
        if let text = ProcessInfo.processInfo.environment["INV_TEST_SEED"], let seed = UInt64(text) { return seed }
        return UInt64.random(in: 0...UInt64.max)
    }

    /// A lowercase UUID drawn from this generator (a movement id that replays with the seed).
    mutating func uuid() -> String {
        let high = next()
        let low = next()
        // Version 4, variant 10xx, so `UUID(uuidString:)` and the server both accept it.
        var digits = Array(String(format: "%016llx%016llx", high, low))
        digits[12] = "4"
        digits[16] = ["8", "9", "a", "b"][Int(low >> 62)]
        let text = String(digits)
        return [text.prefix(8), text.dropFirst(8).prefix(4), text.dropFirst(12).prefix(4), text.dropFirst(16).prefix(4), text.dropFirst(20)]
            .joined(separator: "-")
    }
}
