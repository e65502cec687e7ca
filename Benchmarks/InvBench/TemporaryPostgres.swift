import Foundation
import SyncServer

/// A throwaway PostgreSQL server for `inv-bench export`: Debian's `postgresql` (scripts/install-deps installs it),
/// `initdb` and `pg_ctl` in a scratch directory, on 127.0.0.1 and a free port, user `inv` with trust
/// authentication. Default settings (fsync on): the mirror is measured as a real deployment would write.
/// PostgreSQL refuses to run as root; as root it runs as `nobody`.
struct TemporaryPostgres {
    let root: String
    let port: Int
    let binaries: String
    private let user: String?
    private let process: Process

    func url(_ database: String) -> String { "postgres://inv@127.0.0.1:\(port)/\(database)" }

    static func start(in scratch: String) throws -> TemporaryPostgres {
        let base = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).compactMap(Int.init).sorted()
        guard let binaries = versions.reversed().map({ "\(base)/\($0)/bin" })
            .first(where: { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") })
        else { throw BenchError("PostgreSQL is not installed: run scripts/install-deps") }
        let root = scratch + "/postgres"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let user = getuid() == 0 ? "nobody" : nil
        if user != nil {
            chown(scratch, 65_534, 65_534)
            chown(root, 65_534, 65_534)
        }
        let server = TemporaryPostgres(root: root, port: try LoopbackPorts.free(), binaries: binaries, user: user, process: Process())
        try server.runAsServerUser("initdb", ["-D", root + "/data", "-U", "inv", "--auth=trust", "-E", "UTF8", "--no-sync"])
        // A child of the benchmark, not daemonised by `pg_ctl start`, so it is ours to stop.
        let process = server.process
        process.executableURL = URL(fileURLWithPath: user == nil ? binaries + "/postgres" : "/usr/sbin/runuser")
        process.arguments = (user.map { ["-u", $0, "--", binaries + "/postgres"] } ?? []) + [
            "-D", root + "/data", "-p", String(server.port), "-k", root, "-c", "listen_addresses=127.0.0.1", "-c", "max_wal_size=4GB",
        ]
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = now() + 60
        while (try? server.psql("SELECT 1", database: "postgres")) != "1" {
            guard process.isRunning, now() < deadline else { throw BenchError("PostgreSQL did not start") }
            usleep(50_000)
        }
        return server
    }

    /// Stops the server with a fast shutdown (`pg_ctl stop`: runuser does not pass signals on to it).
    func stop() {
        guard process.isRunning else { return }
        _ = try? runAsServerUser("pg_ctl", ["-D", root + "/data", "-m", "fast", "-w", "stop"])
        let deadline = now() + 30
        while process.isRunning, now() < deadline { usleep(10_000) }
    }

    /// Runs `sql` with psql (`-c`, so a `\copy` meta-command works too) and returns what it printed.
    @discardableResult
    func psql(_ sql: String, database: String) throws -> String {
        try Self.run(binaries + "/psql", [
            "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", "inv", "-d", database,
            "-c", sql,
        ])
    }

    @discardableResult
    private func runAsServerUser(_ tool: String, _ arguments: [String]) throws -> String {
        if let user { return try Self.run("/usr/sbin/runuser", ["-u", user, "--", binaries + "/" + tool] + arguments) }
        return try Self.run(binaries + "/" + tool, arguments)
    }

    /// Runs a program to completion and returns what it printed. Output goes to a file and the exit is polled:
    /// `pg_ctl` leaves the server running in the background, which must not hold a pipe of ours open.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        process.standardInput = FileHandle.nullDevice
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("inv-bench-run-\(UUID().uuidString.prefix(8))").path
        guard FileManager.default.createFile(atPath: path, contents: nil) else { throw BenchError("cannot create \(path)") }
        defer { try? FileManager.default.removeItem(atPath: path) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        process.standardOutput = output
        process.standardError = output
        try process.run()
        while process.isRunning { usleep(2_000) }
        process.waitUntilExit()
        let text = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0 else {
            throw BenchError("\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(text)")
        }
        return text
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
