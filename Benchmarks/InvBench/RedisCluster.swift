import Foundation

/// A Redis primary and its replicas on loopback, each a `redis-server` process with its own port and directory, and
/// each as durable as a node: `appendonly yes` with `appendfsync always` (a write is in the append-only file, fsynced,
/// before the server answers it).
///
/// The reference of `inv-bench fanout`. The processes are stopped by ``stop()``; the directories stay in the
/// caller's scratch directory.
struct RedisCluster {
    /// The primary first, then the replicas.
    var processes: [Process]
    var ports: [Int]

    var primaryPort: Int { ports[0] }
    var replicaPorts: ArraySlice<Int> { ports.dropFirst() }

    /// Debian's `redis-server`, installed with apt-get (as `scripts/install-deps` does) when it is not on the PATH.
    static func executable() throws -> String {
        if let found = locate("redis-server") { return found }
        print("redis-server is missing: installing Debian's package (apt-get install -y redis-server)")
        let root = getuid() == 0
        let install = ["install", "-y", "-qq", "redis-server"]
        func aptGet(_ arguments: [String]) throws {
            let command = ["DEBIAN_FRONTEND=noninteractive", "apt-get"] + arguments
            _ = root ? try TemporaryPostgres.run("/usr/bin/env", command) : try TemporaryPostgres.run("/usr/bin/sudo", ["env"] + command)
        }
        // The package lists may be missing or stale on a fresh machine: refresh them once if the first attempt fails.
        do { try aptGet(install) } catch {
            try aptGet(["update", "-qq"])
            try aptGet(install)
        }
        guard let installed = locate("redis-server") else { throw BenchError("apt-get installed redis-server, but it is not on the PATH") }
        return installed
    }

    private static func locate(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let directories = path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/sbin"]
        return directories.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts a primary and `count - 1` replicas of it, in `scratch/redis-K`, on free loopback ports.
    ///
    /// If one cannot be started, those already started are stopped before the error is thrown.
    static func start(count: Int, executable: String, in scratch: String, ports: inout LoopbackPortSet) async throws -> RedisCluster {
        var cluster = RedisCluster(processes: [], ports: [])
        do {
            for index in 0..<count {
                let port = try ports.next()
                let directory = scratch + "/redis-\(index + 1)"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                var arguments = [
                    "--port", "\(port)", "--bind", "127.0.0.1", "--dir", directory, "--daemonize", "no",
                    "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--logfile", directory + "/redis.log",
                ]
                if index > 0 { arguments += ["--replicaof", "127.0.0.1", "\(cluster.primaryPort)"] }
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                process.arguments = arguments
                process.standardInput = FileHandle.nullDevice
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                cluster.processes.append(process)
                cluster.ports.append(port)
            }
        } catch {
            await cluster.stop()
            throw error
        }
        return cluster
    }

    /// Waits until every server answers, every replica's link to the primary is up with its initial sync done, the
    /// primary counts every replica as online, and no server is rewriting its append-only file (a replica rewrites
    /// it after its initial sync): then the cluster is idle.
    ///
    /// - Returns: the seconds it took.
    /// - Throws: `BenchError` when a server exits, or when `timeout` seconds pass first (naming what was missing).
    func waitUntilReplicating(timeout: Double) async throws -> Double {
        let start = now()
        let replicas = ports.count - 1
        var missing = ""
        while now() < start + timeout {
            if let exited = processes.firstIndex(where: { !$0.isRunning }) {
                throw BenchError("redis-server on port \(ports[exited]) exited with status \(processes[exited].terminationStatus)")
            }
            missing = ""
            for (index, port) in ports.enumerated() {
                guard let info = Self.info(port: port) else {
                    missing = "redis-server on port \(port) does not answer"
                    break
                }
                if index == 0 {
                    let online = info.filter { $0.key.hasPrefix("slave") && $0.value.contains("state=online") }.count
                    if online < replicas { missing = "the primary has \(online) of \(replicas) replicas online" }
                } else if info["master_link_status"] != "up" || info["master_sync_in_progress"] != "0" {
                    missing = "the replica on port \(port) is not yet in sync"
                }
                if missing.isEmpty, info["aof_rewrite_in_progress"] != "0" || info["aof_rewrite_scheduled"] != "0" || info["loading"] != "0" {
                    missing = "redis-server on port \(port) is rewriting its append-only file"
                }
                if !missing.isEmpty { break }
            }
            if missing.isEmpty { return now() - start }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw BenchError("the Redis replicas never settled: after \(Int(timeout)) s \(missing)")
    }

    /// `INFO replication` and `INFO persistence` of the server on `port` as fields; nil if it does not answer.
    private static func info(port: Int) -> [String: String]? {
        guard let connection = try? RESPConnection.connect(port: port, receiveTimeout: 5) else { return nil }
        defer { connection.close() }
        var fields: [String: String] = [:]
        for section in ["replication", "persistence"] {
            guard let text = (try? connection.call("INFO", section))?.text else { return nil }
            for line in text.split(whereSeparator: \.isNewline) {
                guard let colon = line.firstIndex(of: ":") else { continue }
                fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
            }
        }
        return fields
    }

    /// Stops every server (SIGTERM: it flushes its append-only file and exits; SIGKILL after 10 s) and waits for them.
    func stop() async {
        for process in processes where process.isRunning { process.terminate() }
        let deadline = now() + 10
        while processes.contains(where: \.isRunning), now() < deadline {
            do { try await Task.sleep(for: .milliseconds(20)) } catch { break }
        }
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in processes { process.waitUntilExit() }
    }
}
