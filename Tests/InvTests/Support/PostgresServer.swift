import Foundation

/// A real PostgreSQL server for one test: Debian's `postgresql` package (installed with apt-get when missing),
/// `initdb` and `pg_ctl` in a temporary directory, listening on 127.0.0.1 on a free port, with one database
/// `mirror` that user `inv` owns (trust authentication: the server is reachable from this machine only).
///
/// PostgreSQL refuses to run as root: as root, the server runs as `nobody` (`runuser`). Use
/// `defer { server.stop() }` right after starting it: that stops the server at once and removes its directory.
final class PostgresServer {
    let root: String
    let port: Int
    let binaries: String
    private let user: String?
    private var running = true
    private var process: Process?

    var url: String { "postgres://inv@127.0.0.1:\(port)/mirror" }

    init() throws {
        binaries = try Self.installedBinaries()
        user = getuid() == 0 ? "nobody" : nil
        root = FileManager.default.temporaryDirectory.appendingPathComponent("inv-pg-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        if user != nil { chown(root, 65_534, 65_534) }
        port = try freeLocalPort()
        try runAsServerUser("initdb", ["-D", root + "/data", "-U", "inv", "--auth=trust", "-E", "UTF8", "--no-sync"])
        // The server runs as a child of the test (not daemonised by `pg_ctl start`), so it is ours to stop.
        let server = Process()
        server.executableURL = URL(fileURLWithPath: user == nil ? binaries + "/postgres" : "/usr/sbin/runuser")
        server.arguments = (user.map { ["-u", $0, "--", binaries + "/postgres"] } ?? []) + [
            "-D", root + "/data", "-p", String(port), "-k", root, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
        ]
        server.currentDirectoryURL = URL(fileURLWithPath: "/")
        server.standardInput = FileHandle.nullDevice
        guard FileManager.default.createFile(atPath: root + "/server.log", contents: nil) else { throw HarnessError("cannot create the server log") }
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: root + "/server.log"))
        server.standardOutput = logHandle
        server.standardError = logHandle
        try server.run()
        process = server
        let deadline = ContinuousClock.now + .seconds(60)
        while (try? psql("SELECT 1", database: "postgres")) != ["1"] {
            guard server.isRunning, ContinuousClock.now < deadline else {
                let text = log
                stop()
                throw HarnessError("PostgreSQL did not start:\n\(text)")
            }
            usleep(50_000)
        }
        _ = try psql("CREATE DATABASE mirror", database: "postgres")
    }

    deinit { stop() }

    /// Stops the server (`pg_ctl stop`, immediate shutdown: runuser does not pass signals on) and removes its
    /// directory.
    func stop() {
        guard running else { return }
        running = false
        if let process, process.isRunning {
            _ = try? runAsServerUser("pg_ctl", ["-D", root + "/data", "-m", "immediate", "-w", "stop"])
            let deadline = ContinuousClock.now + .seconds(10)
            while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
        }
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Runs `sql` with `psql` and returns its rows, cells separated by tabs, NULL shown as `\N`.
    func psql(_ sql: String, database: String = "mirror") throws -> [String] {
        let output = try Self.run(binaries + "/psql", [
            "-X", "-q", "-A", "-t", "-F", "\t", "-P", "null=\\N", "-v", "ON_ERROR_STOP=1",
            "-h", "127.0.0.1", "-p", String(port), "-U", "inv", "-d", database, "-c", sql,
        ])
        return output.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    /// The server's log, for failure messages.
    var log: String { (try? String(contentsOfFile: root + "/server.log", encoding: .utf8)) ?? "" }

    @discardableResult
    private func runAsServerUser(_ tool: String, _ arguments: [String]) throws -> String {
        if let user { return try Self.run("/usr/sbin/runuser", ["-u", user, "--", binaries + "/" + tool] + arguments) }
        return try Self.run(binaries + "/" + tool, arguments)
    }

    /// The newest installed PostgreSQL's binaries; installs Debian's `postgresql` first when there is none.
    static func installedBinaries() throws -> String {
        if let found = newestBinaries() { return found }
        guard getuid() == 0 else { throw HarnessError("PostgreSQL is not installed: run scripts/install-deps (apt-get install postgresql)") }
        try run("/usr/bin/apt-get", ["update", "-qq"])
        try run("/usr/bin/apt-get", ["install", "-y", "-qq", "postgresql"], environment: ["DEBIAN_FRONTEND": "noninteractive"])
        guard let found = newestBinaries() else { throw HarnessError("apt-get installed postgresql, but no initdb was found") }
        return found
    }

    private static func newestBinaries() -> String? {
        let base = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).compactMap(Int.init).sorted()
        return versions.reversed().map { "\(base)/\($0)/bin" }.first { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") }
    }

    /// Runs a program to completion and returns its standard output; a non-zero exit throws with its output.
    ///
    /// Output goes to files and the exit is polled, as ``ChildProcess`` does: `pg_ctl` leaves the server running
    /// in the background, which must not hold a pipe of ours open.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        process.standardInput = FileHandle.nullDevice
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("inv-pg-run-\(UUID().uuidString.prefix(8))").path
        let (stdoutPath, stderrPath) = (base + ".stdout", base + ".stderr")
        for path in [stdoutPath, stderrPath] {
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw HarnessError("cannot create \(path)") }
        }
        defer {
            try? FileManager.default.removeItem(atPath: stdoutPath)
            try? FileManager.default.removeItem(atPath: stderrPath)
        }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
        let deadline = ContinuousClock.now + .seconds(300)
        while process.isRunning && ContinuousClock.now < deadline { usleep(5_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw HarnessError("\(executable) \(arguments.joined(separator: " ")) did not finish within 300 s")
        }
        process.waitUntilExit()
        let stdout = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            let stderr = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
            throw HarnessError("\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus):\n\(stdout)\(stderr)")
        }
        return stdout
    }
}
