import CRDT
import Foundation
import Store

/// Creates a node's data directory: config, cluster CA and node certificate, database, admin token.
///
/// `inv init` and the tests and benchmarks call this one function, so every node is made the same way.
public enum NodeSetup {
    public struct Created: Sendable {
        public var directory: DataDirectory
        public var config: NodeConfig
        public var adminToken: String
    }

    /// - Parameters:
    ///   - ca: the cluster CA to issue this node's certificate with; a new cluster CA is created when `nil`.
    /// - Throws: `NodeError.alreadyInitialized` if `directory` holds a node; PKI and store errors.
    public static func create(
        directory: DataDirectory, warehouse: String, name: String? = nil, listen: String, ca existingCA: ClusterCA? = nil,
        join: JoinBundle? = nil, now: Date = Date()
    ) async throws -> Created {
        if directory.exists { throw NodeError.alreadyInitialized(directory.path) }
        let replica: ReplicaID
        do { replica = try ReplicaID(warehouse) } catch {
            throw NodeError.badConfig("warehouse id must be 1-32 characters of A-Z a-z 0-9 _ -, got \(warehouse.debugDescription)")
        }
        let (host, port) = try NodeConfig.parseHostPort(listen)
        let config = NodeConfig(
            warehouse: warehouse, name: name ?? warehouse, listen: listen, url: "https://\(NodeConfig.urlHost(host)):\(port)")

        try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        chmod(directory.path, 0o700)
        let pki = PKIFiles(directory: directory.tlsDirectory)
        if let join {
            guard join.warehouse == warehouse else {
                throw NodeError.badConfig("the join bundle is for warehouse \(join.warehouse), not \(warehouse)")
            }
            let (caCertificate, node) = try join.credentials()
            try pki.write(caCertificate: caCertificate)
            try pki.write(node: node)
        } else {
            let ca = try existingCA ?? ClusterCA(clusterID: warehouse, now: now)
            try pki.write(ca: ca)
            try pki.write(node: try ca.issueNodeCertificate(warehouse: warehouse, hosts: [host], now: now))
        }

        let store = try NodeStore(path: directory.databaseFile, replica: replica)
        if let join {
            _ = try await store.submit(.setMember(warehouse: join.peerWarehouse, peerURL: join.peerURL, retired: false))
        }
        let authority = try TokenAuthority(store: store)
        let (_, secret) = try await authority.create(name: "admin", role: .admin, nowMilliseconds: InvNode.nowMilliseconds())
        store.close()
        // A bundle for a warehouse the cluster already knows replaces a lost node: it must catch up before writing
        // (see `JoinBundle.existingWarehouse`).
        if join?.existingWarehouse == true { try DatabaseBackup.markCatchingUp(databaseAt: directory.databaseFile) }
        try directory.writeAdminToken(secret)
        try directory.saveConfig(config)
        return Created(directory: directory, config: config, adminToken: secret)
    }
}
