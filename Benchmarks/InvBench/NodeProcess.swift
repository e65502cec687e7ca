import ArgumentParser
import Foundation
import Logging
import SyncServer

/// A node served by a child process of the benchmark (`inv-bench node`, the same code as `inv serve`), so that
/// its CPU and memory are its own and it talks to its peers over real sockets.
struct NodeProcess {
    let process: Process

    /// Starts `inv-bench node --data DIRECTORY` (this very executable); its output is discarded.
    static func spawn(_ directory: DataDirectory) throws -> NodeProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        process.arguments = ["node", "--data", directory.path]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return NodeProcess(process: process)
    }

    /// The process id, as `/proc` names it (for ``cpuSeconds(pid:)`` and ``peakRSSMegabytes(pid:)``).
    var pid: String { String(process.processIdentifier) }

    var isRunning: Bool { process.isRunning }

    /// Stops the node with SIGTERM (it drains its write queue and exits), or SIGKILL if it is still running after
    /// `grace` seconds, and waits for it to exit. Safe to call on a node that has already exited.
    func stop(grace: Double = 10) async {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = now() + grace
        while process.isRunning, now() < deadline {
            do { try await Task.sleep(for: .milliseconds(20)) } catch { break }
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

extension NodeProcess {
    /// Stops every node at once: SIGTERM to all, then SIGKILL to those still running after `grace` seconds; returns
    /// when all have exited.
    static func stop(_ nodes: [NodeProcess], grace: Double = 10) async {
        for node in nodes where node.isRunning { node.process.terminate() }
        let deadline = now() + grace
        while nodes.contains(where: \.isRunning), now() < deadline {
            do { try await Task.sleep(for: .milliseconds(20)) } catch { break }
        }
        for node in nodes where node.isRunning { kill(node.process.processIdentifier, SIGKILL) }
        for node in nodes { node.process.waitUntilExit() }
    }
}

/// `inv-bench node --data DIR`: serves a node in a child process of the benchmark (hidden).
struct BenchNode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Serve a node (used by `inv-bench sync` and `inv-bench push`).", shouldDisplay: false)
    @Option var data: String

    func run() async throws {
        try await NodeServer.run(directory: DataDirectory(path: data), logger: Logger(label: "inv-bench.node"))
    }
}
