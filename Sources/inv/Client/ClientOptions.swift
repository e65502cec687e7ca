import ArgumentParser
import Foundation
import SyncServer

/// How a client command finds its node: a data directory, or an explicit URL, CA and token.
struct ClientOptions: ParsableArguments {
    @Option(help: "The node's data directory: its URL, CA and admin token are read from there (default: $INV_DATA or ./inv-data).")
    var data: String?

    @Option(help: "The node's URL, e.g. https://127.0.0.1:8443 (with --ca and --token or $INV_TOKEN).")
    var node: String?

    @Option(help: "The cluster CA certificate (PEM) to verify the node against.")
    var ca: String?

    @Option(help: "A bearer token (default: $INV_TOKEN, else the data directory's admin token).")
    var token: String?

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    /// Where to connect and with what.
    struct Target {
        var url: String
        var caFile: String
        var token: String
        /// Shown in the "node not running" hint; `nil` for a remote node (`--node`), whose data directory is elsewhere.
        var dataPath: String?
    }

    /// The data directory the command reads its node from; `nil` with `--node` (a remote node).
    var dataDirectory: DataDirectory? {
        node == nil ? DataDirectory(path: data ?? DataDirectoryOption.defaultPath) : nil
    }

    func target() throws -> Target {
        let environmentToken = ProcessInfo.processInfo.environment["INV_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        if let node {
            guard let ca else { throw CLIError("--node needs --ca FILE (the cluster CA certificate)") }
            guard let token = token ?? environmentToken else { throw CLIError("--node needs --token TOKEN or $INV_TOKEN") }
            return Target(url: node, caFile: ca, token: token, dataPath: nil)
        }
        let directory = DataDirectory(path: data ?? DataDirectoryOption.defaultPath)
        let config = try directory.loadConfig()
        guard let token = token ?? environmentToken ?? directory.readAdminToken() else {
            throw CLIError("no token: pass --token, set $INV_TOKEN, or use a data directory with an admin token")
        }
        return Target(url: config.url, caFile: ca ?? PKIFiles(directory: directory.tlsDirectory).caCertificatePath, token: token, dataPath: directory.path)
    }
}

/// A client-side failure, printed as one line.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    /// The HTTP status of the node's answer, when the node refused the request.
    var status: Int?
    /// The line of a document (from 1) the node's refusal is about (`error.line`).
    var line: Int?
    init(_ description: String, status: Int? = nil, line: Int? = nil) {
        self.description = description
        self.status = status
        self.line = line
    }
}

/// Options of every movement (`--reason` is declared by each command: required for adjust, optional otherwise).
struct MovementOptions: ParsableArguments {
    @Option(help: "An external reference (order, delivery note...).") var reference: String?
    @Option(help: "A UUID making a retry idempotent: the same id is recorded once.") var id: String?
}
