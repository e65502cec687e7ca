import Foundation

/// A failure of the test harness itself (binary missing, a process that would not stop...).
struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The built `inv` executable, next to this test bundle (`swift build --build-tests` builds it first).
enum InvBinary {
    static func path() throws -> String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [
            bundle.appendingPathComponent("inv").path,
            bundle.deletingLastPathComponent().appendingPathComponent("inv").path,
            FileManager.default.currentDirectoryPath + "/.build/debug/inv",
        ]
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw HarnessError("inv not built; looked in \(candidates)")
        }
        return path
    }
}

/// One finished run of `inv`: its exit status and everything it printed.
struct InvResult: CustomStringConvertible {
    var arguments: [String]
    var status: Int32
    var stdout: String
    var stderr: String

    /// stdout split into lines, without the final newline's empty line.
    var lines: [String] { Self.lines(stdout) }
    var stderrLines: [String] { Self.lines(stderr) }

    static func lines(_ text: String) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    var description: String {
        "inv \(arguments.joined(separator: " ")) exited \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)---"
    }
}

/// A child process whose stdout and stderr go to files (no pipe can fill up and block it).
final class ChildProcess {
    let arguments: [String]
    let process = Process()
    let stdoutPath: String
    let stderrPath: String

    /// Starts `inv arguments` with `INV_TOKEN` and `INV_DATA` removed from its environment, and `environment` added.
    ///
    /// - Parameter namespace: the network namespace to run it in (`ip netns exec NAMESPACE inv …`, which execs `inv`
    ///   itself, so signals sent to this process reach `inv`); the machine's own network when nil.
    convenience init(
        inv arguments: [String], outputIn directory: String, environment extra: [String: String] = [:], namespace: String? = nil
    ) throws {
        if let namespace {
            let command = ["netns", "exec", namespace, try InvBinary.path()] + arguments
            try self.init(executable: try NetworkNamespaces.ipTool(), command, outputIn: directory, environment: extra)
        } else {
            try self.init(executable: try InvBinary.path(), arguments, outputIn: directory, environment: extra)
        }
    }

    /// Starts `executable arguments`, with the environment of ``init(inv:outputIn:environment:)``.
    init(executable: String, _ arguments: [String], outputIn directory: String, environment extra: [String: String] = [:]) throws {
        self.arguments = arguments
        let name = UUID().uuidString.prefix(8)
        stdoutPath = directory + "/\(name).stdout"
        stderrPath = directory + "/\(name).stderr"
        for path in [stdoutPath, stderrPath] {
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw HarnessError("cannot create \(path)") }
        }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["INV_TOKEN"] = nil
        environment["INV_DATA"] = nil
        environment.merge(extra) { _, new in new }
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
    }

    deinit {
        // Never leave a child behind, whatever path the test took.
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    var pid: pid_t { process.processIdentifier }
    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits up to `timeout` for the process to exit; returns its status, or nil if it is still running.
    func wait(upTo timeout: Duration) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning { return nil }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Sends `signal` and waits up to `grace`; then SIGKILLs. Returns the status if it exited within `grace`.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, grace: Duration = .seconds(5)) -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(pid, signal)
        if let status = wait(upTo: grace) { return status }
        kill(pid, SIGKILL)
        process.waitUntilExit()
        return nil
    }

    /// Whether it ended because of a signal (a crash or a kill) rather than by exiting.
    var wasKilledBySignal: Bool { !process.isRunning && process.terminationReason == .uncaughtSignal }

    /// What it printed so far, with its exit status (-1 while it is still running).
    func result() -> InvResult {
        InvResult(arguments: arguments, status: process.isRunning ? -1 : process.terminationStatus, stdout: stdout, stderr: stderr)
    }
}

/// Runs `inv arguments` to completion (in network namespace `namespace` when given), killing it if it takes longer
/// than `timeout`.
func runInv(
    _ arguments: [String], in directory: String, timeout: Duration = .seconds(30), environment: [String: String] = [:],
    namespace: String? = nil
) throws -> InvResult {
    try awaitExit(ChildProcess(inv: arguments, outputIn: directory, environment: environment, namespace: namespace), within: timeout)
}

/// Runs `executable arguments` to completion, killing it if it takes longer than `timeout`.
func runProgram(_ executable: String, _ arguments: [String], in directory: String, timeout: Duration = .seconds(30)) throws -> InvResult {
    try awaitExit(ChildProcess(executable: executable, arguments, outputIn: directory), within: timeout)
}

/// Waits for `child` up to `timeout` (then kills it and throws), and removes its output files.
private func awaitExit(_ child: ChildProcess, within timeout: Duration) throws -> InvResult {
    let command = ([child.process.executableURL?.lastPathComponent ?? "?"] + child.arguments).joined(separator: " ")
    defer {
        try? FileManager.default.removeItem(atPath: child.stdoutPath)
        try? FileManager.default.removeItem(atPath: child.stderrPath)
    }
    guard child.wait(upTo: timeout) != nil else {
        child.stop(signal: SIGKILL, grace: .seconds(1))
        throw HarnessError("\(command) did not finish within \(timeout)\n\(child.result())")
    }
    return child.result()
}

/// A fresh directory under the system temp dir, removed by `cleanup()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("inv-cli-tests-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// A TCP port P on 127.0.0.1 that was free a moment ago, with P + 1 free too (a node's peer listener defaults to the
/// API port + 1): bind port 0, read back what the kernel chose, and check the next one.
func freeLocalPort() throws -> Int {
    for _ in 0..<50 {
        let port = try bindLocal(port: 0)
        if port < 65_535, (try? bindLocal(port: port + 1)) != nil { return port }
    }
    throw HarnessError("no free pair of ports on 127.0.0.1")
}

/// Binds a TCP socket to 127.0.0.1:`port`, closes it and returns the port it got.
private func bindLocal(port: Int) throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw HarnessError("bind: \(String(cString: strerror(errno)))") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw HarnessError("getsockname: \(String(cString: strerror(errno)))") }
    return Int(UInt16(bigEndian: address.sin_port))
}
