import ArgumentParser
import CRDT
import Foundation
import Store
import SyncServer

/// `inv init`: creates a node's data directory, database, cluster CA, certificate and admin token.
struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a warehouse node (data directory, CA, certificate, admin token).")

    @Option(help: "The node's data directory (default: $INV_DATA or ./inv-data).") var data: String?
    @Option(help: "This node's warehouse id: 1-32 characters of A-Z a-z 0-9 _ -.") var warehouse: String
    @Option(help: "A human name for the warehouse.") var name: String?
    @Option(help: "Where the node listens, HOST:PORT.") var listen = "127.0.0.1:8443"

    func validate() throws {
        guard ReplicaID.isValid(warehouse) else {
            throw ValidationError("warehouse id must be 1-32 characters of A-Z a-z 0-9 _ -, got \(warehouse.debugDescription)")
        }
        _ = try NodeConfig.parseHostPort(listen)
    }

    func run() async throws {
        let directory = DataDirectory(path: data ?? DataDirectoryOption.defaultPath)
        if directory.exists { throw NodeError.alreadyInitialized(directory.path) }
        let (host, port) = try NodeConfig.parseHostPort(listen)
        let urlHost = ["0.0.0.0", "::"].contains(host) ? "127.0.0.1" : (host.contains(":") ? "[\(host)]" : host)
        let config = NodeConfig(warehouse: warehouse, name: name ?? warehouse, listen: listen, url: "https://\(urlHost):\(port)")

        try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        chmod(directory.path, 0o700)
        let now = Date()
        let ca = try ClusterCA(clusterID: warehouse, now: now)
        let pki = PKIFiles(directory: directory.tlsDirectory)
        try pki.write(ca: ca)
        try pki.write(node: try ca.issueNodeCertificate(warehouse: warehouse, hosts: [host], now: now))

        let replica = try ReplicaID(warehouse)
        let store = try NodeStore(path: directory.databaseFile, replica: replica)
        let authority = try TokenAuthority(store: store)
        let (_, secret) = try await authority.create(name: "admin", role: .admin, nowMilliseconds: InvNode.nowMilliseconds())
        store.close()
        try directory.writeAdminToken(secret)
        try directory.saveConfig(config)

        print("""
            Created warehouse node \(warehouse) in \(directory.path)
              URL:          \(config.url)
              cluster CA:   \(pki.caCertificatePath)
              admin token:  \(secret)
            The admin token is shown once; it is also kept (mode 0600) in \(directory.adminTokenFile).
            Start the node with: inv serve --data \(directory.path)
            """)
    }
}

/// The default data directory: `$INV_DATA`, else `./inv-data`.
enum DataDirectoryOption {
    static var defaultPath: String { ProcessInfo.processInfo.environment["INV_DATA"].flatMap { $0.isEmpty ? nil : $0 } ?? "./inv-data" }
}
