import ArgumentParser
import AsyncHTTPClient
import Foundation
import Glibc
import NIOHTTP1
import Store
import SyncServer
import Synchronization

/// Fan-out: what a write on one node costs the whole cluster, and how soon every other node has it, with N nodes,
/// against a Redis primary with N-1 replicas doing the same writes in the same run.
///
/// The nodes run as separate processes (`inv-bench node`, the code of `inv serve`) with the default anti-entropy
/// interval, joined as a user joins them: the first founds the cluster, every other gets a bundle it issued
/// (`inv cert issue`, `inv init --join`) and learns of the rest as the nodes sync. Receipts are posted open-loop to
/// the first node; each other node's `GET /v1/events` stream tells when it has each one.
struct FanoutBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout",
        abstract: "Fan-out: cluster CPU per write and time until every other node has it, N nodes against Redis with N-1 replicas.")

    @Option(help: "Nodes in the cluster (2 to 64); the Redis reference runs a primary and one replica fewer.") var nodes = 8
    @Option(help: "Writes posted to the first node (receipts; for Redis, the same writes to the primary).") var writes = 200
    @Option(help: "Writes per second (paced: each is sent at its time, whatever the answers to the others).") var rate = 20.0
    @Option(help: "Seconds over which idle CPU is measured once the cluster has settled.") var idleSeconds = 10.0
    @Option(help: "Seconds to wait after the last acknowledgement for writes not yet on every node.") var drain = 60.0
    @Option(help: "Seconds the nodes (or replicas) have to settle: every node syncing with every other.") var settleTimeout = 600.0

    func validate() throws {
        guard (2...64).contains(nodes) else { throw ValidationError("--nodes must be 2 to 64") }
        guard (1...100_000).contains(writes) else { throw ValidationError("--writes must be 1 to 100000") }
        guard rate > 0, rate <= 1_000 else { throw ValidationError("--rate must be above 0 and at most 1000 per second") }
        guard idleSeconds >= 1, idleSeconds <= 600 else { throw ValidationError("--idle-seconds must be 1 to 600") }
        guard drain >= 1, drain <= 600 else { throw ValidationError("--drain must be 1 to 600 seconds") }
        guard settleTimeout >= 10, settleTimeout <= 3_600 else { throw ValidationError("--settle-timeout must be 10 to 3600 seconds") }
    }

    static let sku = "FANOUT-0001"

    /// What one system (the inv cluster, or Redis) measured.
    struct Measured {
        var settleSeconds: Double
        /// CPU of each process over the idle window, in percent of one core.
        var idlePercent: [Double]
        /// CPU of all processes together from the first write until every write was everywhere, in seconds.
        var writingCPUSeconds: Double
        /// Send to acknowledgement of each write, in ms.
        var acknowledgement: [Double]
        /// Acknowledgement until the last other node had it, for each write, in ms.
        var propagation: [Double]
        var postingSeconds: Double
        /// VmRSS of each process after the writes, in MiB.
        var residentMegabytes: [Double]
    }

    func run() async throws {
        raiseFileLimit()
        let redis = try RedisCluster.executable()
        let scratch = try scratchDirectory("fanout")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        print(String(
            format: "inv-bench fanout: %d nodes (default anti-entropy), %d receipts at %.0f/s to the first; against Redis,"
                + " a primary and %d replicas (appendfsync always)", nodes, writes, rate, nodes - 1))

        let inv = try await measureNodes(in: scratch + "/inv")
        let reference = try await measureRedis(executable: redis, in: scratch + "/redis")
        report(inv, reference)
    }

    // MARK: - inv

    func measureNodes(in scratch: String) async throws -> Measured {
        let warehouses = (1...nodes).map { String(format: "W%02d", $0) }
        let setupStart = now()
        let cluster = try await BenchCluster.create(warehouses: warehouses, in: scratch, antiEntropySeconds: nil)
        figure("inv: data directories made in", now() - setupStart, "s")
        let client = try cluster.makeClient()
        var processes: [NodeProcess] = []
        var watchers: [Task<Void, Never>] = []
        let outcome: Result<Measured, any Error>
        do {
            // The founding node first: every other node's first round is with it.
            processes.append(try NodeProcess.spawn(cluster.a.directory))
            _ = try await NodeStatus.wait(client: client, url: cluster.a.config.url, token: cluster.a.adminToken, timeout: 60) { _ in true }
            for node in cluster.nodes.dropFirst() { processes.append(try NodeProcess.spawn(node.directory)) }
            let settled = try await settle(cluster, processes: processes, client: client)

            let idle = try await idlePercent(pids: processes.map(\.pid)) { try Self.requireRunning(processes, warehouses, during: "the idle window") }

            let others = Array(cluster.nodes.dropFirst())
            let logs = others.map { PushBench.EventLog(node: $0.config.warehouse) }
            for (node, log) in zip(others, logs) {
                let (url, token) = (node.config.url, node.adminToken)
                watchers.append(Task { await PushBench.watch(url: url, token: token, client: client, into: log) })
            }
            for log in logs { try await log.waitUntil(timeout: 60, "its event stream to open") { $0.connected } }

            // Warm-up: the product, created on the first node, must be on every node before receipts for it can be
            // merged there.
            let first = cluster.a
            let product = try await PushBench.post(
                client, first.config.url + "/v1/products", token: first.adminToken, body: PushBench.ProductBody(sku: Self.sku, name: "Fan-out bench"))
            guard product == .created else { throw BenchError("creating the product on \(warehouses[0]) answered HTTP \(product.code)") }
            for log in logs { try await log.waitUntil(timeout: drain, "the product to arrive") { $0.products.contains(Self.sku) } }

            let ids = (0..<writes).map { _ in MovementID.generate() }
            var index = [String: Int](minimumCapacity: writes)
            for (position, id) in ids.enumerated() { index[id] = position }
            for log in logs { log.expect(index) }

            let cpuStart = processes.map { cpuSeconds(pid: $0.pid) }
            let url = first.config.url + "/v1/movements"
            let token = first.adminToken
            let (sent, acknowledged) = try await pace { position in
                let body = PushBench.ReceiptBody(type: "receive", sku: Self.sku, quantity: 1, id: ids[position])
                let status = try await PushBench.post(client, url, token: token, body: body)
                guard status == .created else { throw BenchError("receipt \(position) answered HTTP \(status.code)") }
            }
            let lastAck = acknowledged.max() ?? now()
            // Bounded: what has not arrived `drain` seconds after the last acknowledgement is reported, not awaited.
            while now() < lastAck + drain, !logs.allSatisfy({ $0.read { $0.arrived.count == writes || $0.ended != nil } }) {
                try await Task.sleep(for: .milliseconds(10))
            }
            try Self.requireRunning(processes, warehouses, during: "the writes")
            let cpuUsed = zip(processes, cpuStart).map { cpuSeconds(pid: $0.pid) - $1 }.reduce(0, +)
            let arrivals = logs.map { log in log.read { state in (0..<writes).map { state.arrived[$0] } } }
            for log in logs { if let ended = log.read({ $0.ended }) { print("warning: \(log.node)'s event stream ended: \(ended)") } }
            let propagation = try Self.propagation(
                acknowledged: acknowledged, arrivals: arrivals, names: others.map(\.config.warehouse), drain: drain, system: "inv")
            outcome = .success(Measured(
                settleSeconds: settled, idlePercent: idle, writingCPUSeconds: cpuUsed,
                acknowledgement: zip(sent, acknowledged).map { ($1 - $0) * 1_000 }, propagation: propagation,
                postingSeconds: lastAck - (sent.min() ?? lastAck), residentMegabytes: processes.map { residentMegabytes(pid: $0.pid) }))
        } catch {
            outcome = .failure(error)
        }
        // Stopping the nodes also ends their event streams, so the watchers finish even if cancellation did not reach them.
        for watcher in watchers { watcher.cancel() }
        await NodeProcess.stop(processes)
        for watcher in watchers { await watcher.value }
        try await client.shutdown()
        return try outcome.get()
    }

    /// Waits until every node has completed a round with every other node and counts it reachable (the peers that
    /// `GET /v1/status` lists).
    ///
    /// - Returns: the seconds it took.
    /// - Throws: `BenchError` when a node exits, or when `settleTimeout` passes first (naming the nodes not settled).
    func settle(_ cluster: BenchCluster, processes: [NodeProcess], client: HTTPClient) async throws -> Double {
        let start = now()
        let everyone = Set(cluster.nodes.map(\.config.warehouse))
        var lacking = Dictionary(uniqueKeysWithValues: cluster.nodes.map { ($0.config.warehouse, everyone.subtracting([$0.config.warehouse])) })
        while true {
            try Self.requireRunning(processes, cluster.nodes.map(\.config.warehouse), during: "the settle")
            for node in cluster.nodes where lacking[node.config.warehouse]?.isEmpty == false {
                guard let status = await NodeStatus.fetch(client: client, url: node.config.url, token: node.adminToken) else { continue }
                let synced = status.peers.filter { $0.reachable && $0.lastSync != nil }.map(\.warehouse)
                lacking[node.config.warehouse]?.subtract(synced)
            }
            let unsettled = lacking.filter { !$0.value.isEmpty }.sorted { $0.key < $1.key }
            if unsettled.isEmpty {
                let seconds = now() - start
                figure("inv: settled (all pairs synced) in", seconds, "s")
                return seconds
            }
            if now() > start + settleTimeout {
                let examples = unsettled.prefix(4).map { "\($0.key) lacks \($0.value.sorted().prefix(6).joined(separator: ", "))" }
                throw BenchError(
                    "the nodes never settled: after \(Int(settleTimeout)) s, \(unsettled.count) of \(nodes) nodes had not synced with"
                        + " every other node (\(examples.joined(separator: "; ")))")
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    static func requireRunning(_ processes: [NodeProcess], _ names: [String], during phase: String) throws {
        if let stopped = processes.firstIndex(where: { !$0.isRunning }) {
            throw BenchError("node \(names[stopped]) exited with status \(processes[stopped].process.terminationStatus) during \(phase)")
        }
    }

    // MARK: - Redis

    /// The same writes on Redis: a primary and `nodes - 1` replicas.
    ///
    /// A write is what a receipt is on a node, in one transaction: `MULTI`, `INCRBY stock:SKU 1` (the stock counter),
    /// `XADD movements * n POSITION id UUID sku SKU type receive quantity 1` (the ledger row), `EXEC`, pipelined on one
    /// connection to the primary; its acknowledgement is the `EXEC` reply (after the primary's fsync). Each replica
    /// has a client blocked in `XREAD BLOCK 0` on the stream (a read, so replicas serve it): the replica answers it
    /// once it has applied the replicated transaction, so the entry's arrival there is when that replica has the write.
    func measureRedis(executable: String, in scratch: String) async throws -> Measured {
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        var ports = LoopbackPortSet()
        let cluster = try await RedisCluster.start(count: nodes, executable: executable, in: scratch, ports: &ports)
        let names = cluster.ports.map { "redis:\($0)" }
        let pids = cluster.processes.map { String($0.processIdentifier) }
        var connections: [RESPConnection] = []
        var logs: [ArrivalLog] = []
        let acks = ArrivalLog()
        var acksRead = false
        let outcome: Result<Measured, any Error>
        do {
            let settled = try await cluster.waitUntilReplicating(timeout: settleTimeout)
            figure("Redis: settled (replicas in sync) in", settled, "s")
            let running = { () throws in
                if let exited = cluster.processes.firstIndex(where: { !$0.isRunning }) {
                    throw BenchError("\(names[exited]) exited with status \(cluster.processes[exited].terminationStatus)")
                }
            }
            let idle = try await idlePercent(pids: pids, check: running)

            for port in cluster.replicaPorts {
                let connection = try RESPConnection.connect(port: port, receiveTimeout: nil)
                connections.append(connection)
                let log = ArrivalLog()
                logs.append(log)
                Thread { Self.watchStream(connection, into: log) }.start()
            }
            let writer = try RESPConnection.connect(port: cluster.primaryPort)
            connections.append(writer)

            // Warm-up: one write (position -1) that every replica's reader must see, so that each is blocked and
            // answered before the measured writes begin.
            var warmUp = RESPReader(connection: writer)
            try writer.send(Self.receipt(position: -1))
            for _ in 0..<4 { if case .error(let message) = try warmUp.read() { throw BenchError("Redis refused the warm-up write: \(message)") } }
            for (log, name) in zip(logs, names.dropFirst()) {
                try await log.waitUntil(timeout: drain, "the warm-up write on \(name)") { $0.arrived[-1] != nil }
            }

            let count = writes
            Thread { Self.readAcknowledgements(writer, count: count, into: acks) }.start()
            acksRead = true
            let cpuStart = pids.map { cpuSeconds(pid: $0) }
            let (sent, _) = try await pace(waitForAnswers: false) { position in try writer.send(Self.receipt(position: position)) }
            let postingEnd = now()
            try await acks.waitUntil(timeout: drain, "the primary's answers") { $0.arrived.count == writes }
            let acknowledged = (0..<writes).map { position in acks.read { $0.arrived[position] } ?? 0 }
            let lastAck = acknowledged.max() ?? postingEnd
            let complete = { (state: ArrivalLog.State) in state.ended != nil || (0..<writes).allSatisfy { state.arrived[$0] != nil } }
            while now() < lastAck + drain, !logs.allSatisfy({ $0.read(complete) }) {
                try await Task.sleep(for: .milliseconds(10))
            }
            try running()
            let cpuUsed = zip(pids, cpuStart).map { cpuSeconds(pid: $0) - $1 }.reduce(0, +)
            let arrivals = logs.map { log in log.read { state in (0..<writes).map { state.arrived[$0] } } }
            let propagation = try Self.propagation(
                acknowledged: acknowledged, arrivals: arrivals, names: Array(names.dropFirst()), drain: drain, system: "Redis")
            outcome = .success(Measured(
                settleSeconds: settled, idlePercent: idle, writingCPUSeconds: cpuUsed,
                acknowledgement: zip(sent, acknowledged).map { ($1 - $0) * 1_000 }, propagation: propagation,
                postingSeconds: lastAck - (sent.min() ?? lastAck), residentMegabytes: pids.map { residentMegabytes(pid: $0) }))
        } catch {
            outcome = .failure(error)
        }
        // Shutting the connections down ends the readers' blocking reads; a socket is closed only once no reader can
        // still be reading it (its number could be reused). The servers stop after.
        for connection in connections { connection.shutdown() }
        let readers = logs + (acksRead ? [acks] : [])
        let readersEnd = now() + 10
        while now() < readersEnd, !readers.allSatisfy({ $0.read { $0.ended != nil } }) {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if readers.allSatisfy({ $0.read { $0.ended != nil } }) { for connection in connections { connection.close() } }
        await cluster.stop()
        return try outcome.get()
    }

    /// The commands of one write: the counter and the ledger entry, in one transaction.
    static func receipt(position: Int) -> [[String]] {
        [
            ["MULTI"],
            ["INCRBY", "stock:\(sku)", "1"],
            ["XADD", "movements", "*", "n", "\(position)", "id", MovementID.generate(), "sku", sku, "type", "receive", "quantity", "1"],
            ["EXEC"],
        ]
    }

    /// Reads the replies to `count` writes (four each: `OK`, `QUEUED`, `QUEUED`, the `EXEC` array) in the order
    /// they were sent, recording when each `EXEC` reply arrived. Runs on a thread of its own (the reads block).
    static func readAcknowledgements(_ connection: RESPConnection, count: Int, into log: ArrivalLog) {
        var reader = RESPReader(connection: connection)
        do {
            for position in 0..<count {
                for _ in 0..<3 { if case .error(let message) = try reader.read() { throw BenchError("Redis refused write \(position): \(message)") } }
                guard case .array(let results?) = try reader.read(), results.count == 2 else { throw BenchError("Redis did not commit write \(position)") }
                log.record(position, at: now())
            }
            log.end("all answered")
        } catch {
            log.end(String(describing: error))
        }
    }

    /// Reads the `movements` stream on a replica with `XREAD BLOCK 0` until the connection ends, recording when
    /// each entry (by its field `n`) arrived. Runs on a thread of its own (the reads block).
    static func watchStream(_ connection: RESPConnection, into log: ArrivalLog) {
        var reader = RESPReader(connection: connection)
        var last = "0-0"
        do {
            while true {
                try connection.send([["XREAD", "BLOCK", "0", "COUNT", "1000", "STREAMS", "movements", last]])
                let reply = try reader.read()
                let arrived = now()
                if case .error(let message) = reply { throw BenchError("XREAD on a replica: \(message)") }
                guard case .array(let streams?) = reply else { continue }
                for case .array(let stream?) in streams where stream.count == 2 {
                    guard case .array(let entries?) = stream[1] else { continue }
                    for case .array(let entry?) in entries where entry.count == 2 {
                        guard let id = entry[0].text, case .array(let fields?) = entry[1] else { continue }
                        last = id
                        let texts = fields.map { $0.text ?? "" }
                        if let at = texts.firstIndex(of: "n"), at + 1 < texts.count, let position = Int(texts[at + 1]) {
                            log.record(position, at: arrived)
                        }
                    }
                }
            }
        } catch {
            log.end(String(describing: error))
        }
    }

    // MARK: - Both

    /// Posts `writes` writes at `rate` per second, open loop: each leaves at its own time, so a slow answer does not
    /// delay the next one.
    ///
    /// - Parameters:
    ///   - waitForAnswers: whether `write` returns when the write is acknowledged (then its time is recorded as the
    ///     acknowledgement) or as soon as it is sent (the answers are read elsewhere).
    ///   - write: sends write number `position`.
    /// - Returns: when each write was sent, and when each was acknowledged (the sending time when not waited for).
    func pace(waitForAnswers: Bool = true, _ write: @escaping @Sendable (Int) async throws -> Void) async throws -> (sent: [Double], acknowledged: [Double]) {
        let start = now() + 0.01
        return try await withThrowingTaskGroup(of: (Int, Double, Double).self) { group in
            var sent = [Double](repeating: 0, count: writes)
            var acknowledged = [Double](repeating: 0, count: writes)
            for position in 0..<writes {
                let wait = start + Double(position) / rate - now()
                if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
                if waitForAnswers {
                    group.addTask {
                        let leaving = now()
                        try await write(position)
                        return (position, leaving, now())
                    }
                } else {
                    let leaving = now()
                    try await write(position)
                    (sent[position], acknowledged[position]) = (leaving, leaving)
                }
            }
            for try await (position, leaving, answered) in group { (sent[position], acknowledged[position]) = (leaving, answered) }
            return (sent, acknowledged)
        }
    }

    /// Each process's CPU over `idleSeconds` of nothing to do, in percent of one core.
    func idlePercent(pids: [String], check: () throws -> Void) async throws -> [Double] {
        let start = pids.map { cpuSeconds(pid: $0) }
        let began = now()
        try await Task.sleep(for: .seconds(idleSeconds))
        let elapsed = now() - began
        try check()
        return zip(pids, start).map { (cpuSeconds(pid: $0) - $1) / elapsed * 100 }
    }

    /// For each write, the time from its acknowledgement until the last of the other nodes had it, in ms.
    ///
    /// - Throws: `BenchError` when some write is not on every other node, saying how many are, and on which node
    ///   the fewest arrived.
    static func propagation(acknowledged: [Double], arrivals: [[Double?]], names: [String], drain: Double, system: String) throws -> [Double] {
        var latencies: [Double] = []
        for (position, acked) in acknowledged.enumerated() {
            let times = arrivals.compactMap { $0[position] }
            if times.count == arrivals.count, let last = times.max() { latencies.append((last - acked) * 1_000) }
        }
        if latencies.count < acknowledged.count {
            let counts = arrivals.map { $0.compactMap { $0 }.count }
            let fewest = counts.indices.min { counts[$0] < counts[$1] } ?? 0
            throw BenchError(
                "\(system): only \(latencies.count) of \(acknowledged.count) writes reached every other node within \(Int(drain)) s of the"
                    + " last acknowledgement (fewest on \(names[fewest]): \(counts[fewest]))")
        }
        return latencies
    }

    func report(_ inv: Measured, _ redis: Measured) {
        func mean(_ values: [Double]) -> Double { values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count) }
        func p(_ values: [Double], _ fraction: Double) -> Double { values.isEmpty ? .nan : percentile(values.sorted(), fraction) }
        let cpu = inv.writingCPUSeconds / Double(writes) * 1_000
        let redisCPU = redis.writingCPUSeconds / Double(writes) * 1_000
        let idle = mean(inv.idlePercent)
        print("inv beside Redis, \(nodes) nodes (Redis: a primary and \(nodes - 1) replicas):")
        figure("writes posted (acknowledged)", Double(inv.propagation.count), "writes", reference: ("Redis", Double(redis.propagation.count)))
        figure("posting rate achieved", Double(writes) / inv.postingSeconds, "/s", reference: ("Redis", Double(writes) / redis.postingSeconds))
        figure("idle CPU per node, mean", idle, "% of a core", reference: ("Redis", mean(redis.idlePercent)), limit: "<= 0.3")
        figure("idle CPU per node, max", inv.idlePercent.max() ?? .nan, "% of a core", reference: ("Redis", redis.idlePercent.max() ?? .nan))
        figure("idle CPU, whole cluster", inv.idlePercent.reduce(0, +), "% of a core", reference: ("Redis", redis.idlePercent.reduce(0, +)))
        figure("write acknowledged p50", p(inv.acknowledgement, 0.5), "ms", reference: ("Redis", p(redis.acknowledgement, 0.5)))
        figure("write acknowledged p99", p(inv.acknowledgement, 0.99), "ms", reference: ("Redis", p(redis.acknowledgement, 0.99)))
        figure("on every other node p50", p(inv.propagation, 0.5), "ms", reference: ("Redis", p(redis.propagation, 0.5)))
        figure("prop_p99_ms", p(inv.propagation, 0.99), "ms", reference: ("Redis", p(redis.propagation, 0.99)), limit: "<= 25")
        figure("on every other node max", inv.propagation.max() ?? .nan, "ms", reference: ("Redis", redis.propagation.max() ?? .nan))
        figure("cpu_ms_per_write (whole cluster)", cpu, "ms", reference: ("Redis", redisCPU))
        figure("CPU per write per node", cpu / Double(nodes), "ms", reference: ("Redis", redisCPU / Double(nodes)))
        figure("cpu_ratio", cpu / redisCPU, "", limit: "<= 2")
        figure("RSS per node, max", inv.residentMegabytes.max() ?? .nan, "MiB", reference: ("Redis", redis.residentMegabytes.max() ?? .nan))
        figure("RSS per node, mean", mean(inv.residentMegabytes), "MiB", reference: ("Redis", mean(redis.residentMegabytes)))
        print(String(
            format: "RESULT nodes=%d cpu_ms_per_write=%.2f redis_cpu_ms_per_write=%.2f cpu_ratio=%.1f prop_p99_ms=%.1f redis_prop_p99_ms=%.1f idle_pct_per_node=%.2f",
            nodes, cpu, redisCPU, cpu / redisCPU, p(inv.propagation, 0.99), p(redis.propagation, 0.99), idle))
    }

    /// Raises this process's open-file limit to its hard limit; the nodes and servers it starts inherit it (each
    /// node holds connections to every peer, and each Redis replica's reader is a socket here).
    func raiseFileLimit() {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
    }
}

extension FanoutBench {
    /// When each write (by position) first arrived somewhere, shared between a reading thread and the measuring task.
    final class ArrivalLog: Sendable {
        struct State {
            var arrived: [Int: Double] = [:]
            /// Why the reader stopped, once it has.
            var ended: String?
        }

        private let state = Mutex(State())

        func record(_ position: Int, at time: Double) {
            state.withLock { state in
                if state.arrived[position] == nil { state.arrived[position] = time }
            }
        }

        func end(_ reason: String) { state.withLock { $0.ended = $0.ended ?? reason } }

        func read<T>(_ body: (State) -> T) -> T { state.withLock { body($0) } }

        /// Polls every 10 ms until `condition` holds.
        ///
        /// - Throws: `BenchError` after `timeout` seconds, or at once if the reader has stopped.
        func waitUntil(timeout: Double, _ what: String, _ condition: (State) -> Bool) async throws {
            let deadline = now() + timeout
            while now() < deadline {
                let (done, ended) = read { (condition($0), $0.ended) }
                if done { return }
                if let ended { throw BenchError("the reader stopped while waiting for \(what): \(ended)") }
                try await Task.sleep(for: .milliseconds(10))
            }
            throw BenchError("timed out after \(Int(timeout)) s waiting for \(what)")
        }
    }
}
