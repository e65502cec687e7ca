import ArgumentParser
import CRDT
import Foundation
import SyncServer

/// `inv init`: creates a node's data directory, database, cluster CA, certificate and admin token.
struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a warehouse node (data directory, CA, certificate, admin token).")

    @Option(help: "The node's data directory (default: $INV_DATA or ./inv-data).") var data: String?
    @Option(help: "This node's warehouse id: 1-32 characters of A-Z a-z 0-9 _ -.") var warehouse: String
    @Option(help: "A human name for the warehouse.") var name: String?
    @Option(help: "Where the node listens, HOST:PORT (the peer-sync listener takes the next port).") var listen = "127.0.0.1:8443"
    @Option(help: "Join an existing cluster with a bundle from `inv cert issue` on one of its nodes.") var join: String?

    func validate() throws {
        guard ReplicaID.isValid(warehouse) else {
            throw ValidationError("warehouse id must be 1-32 characters of A-Z a-z 0-9 _ -, got \(warehouse.debugDescription)")
        }
        _ = try NodeConfig.parseHostPort(listen)
    }

    func run() async throws {
        let directory = DataDirectory(path: data ?? DataDirectoryOption.defaultPath)
        let bundle = try join.map { try JoinBundle.read(from: $0) }
        let created = try await NodeSetup.create(directory: directory, warehouse: warehouse, name: name, listen: listen, join: bundle)
        if let bundle { print("Joining the cluster through \(bundle.peerWarehouse) at \(bundle.peerURL)") }
        if bundle?.existingWarehouse == true {
            print("""
                \(warehouse) already exists in the cluster: this node replaces it, and refuses writes until it has caught up with every active member
                (restore the latest backup first if there is one: inv restore FILE --data \(directory.path))
                """)
        }
        print("""
            Created warehouse node \(warehouse) in \(directory.path)
              URL:          \(created.config.url)
              cluster CA:   \(PKIFiles(directory: directory.tlsDirectory).caCertificatePath)
              admin token:  \(created.adminToken)
            The admin token is shown once; it is also kept (mode 0600) in \(directory.adminTokenFile).
            Start the node with: inv serve --data \(directory.path)
            """)
    }
}

/// The default data directory: `$INV_DATA`, else `./inv-data`.
enum DataDirectoryOption {
    static var defaultPath: String { ProcessInfo.processInfo.environment["INV_DATA"].flatMap { $0.isEmpty ? nil : $0 } ?? "./inv-data" }
}
