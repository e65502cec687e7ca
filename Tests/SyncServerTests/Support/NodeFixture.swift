import CRDT
import Foundation
import Store
import SyncServer

/// A real warehouse node in a temporary data directory, made by ``NodeSetup`` as `inv init` makes one (config,
/// cluster CA and certificate, database, admin token), with one more token per role.
///
/// Use ``with(warehouse:_:)``: it closes the node and removes the directory however the body ends.
final class NodeFixture: Sendable {
    let node: InvNode
    let directory: DataDirectory
    /// Bearer tokens (`inv_<id>_<secret>`) of each role; ``admin`` is the one `inv init` created.
    let admin: String
    let staff: String
    let reporter: String
    /// The token ids of ``admin``, ``staff`` and ``reporter``.
    let adminID: String
    let staffID: String
    let reporterID: String

    var warehouse: String { node.config.warehouse }

    private init(warehouse: String) async throws {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("inv-api-\(UUID().uuidString.prefix(8).lowercased())").path
        directory = DataDirectory(path: path)
        let node: InvNode
        let admin: String
        do {
            admin = try await NodeSetup.create(
                directory: directory, warehouse: warehouse, name: "Warehouse \(warehouse)", listen: "127.0.0.1:0"
            ).adminToken
            node = try InvNode(directory: directory)
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw error
        }
        self.node = node
        self.admin = admin
        adminID = String(admin.split(separator: "_")[1])
        do {
            let now = InvNode.nowMilliseconds()
            let staff = try await node.tokens.create(name: "till-1", role: .staff, nowMilliseconds: now)
            let reporter = try await node.tokens.create(name: "accounts", role: .reporter, nowMilliseconds: now)
            self.staff = staff.secret
            staffID = staff.0.id
            self.reporter = reporter.secret
            reporterID = reporter.0.id
        } catch {
            node.close()
            try? FileManager.default.removeItem(atPath: path)
            throw error
        }
    }

    /// Runs `body` with a fresh node of `warehouse`, then closes it and removes its data directory.
    static func with<T>(warehouse: String = "MAD", _ body: (NodeFixture) async throws -> T) async throws -> T {
        let fixture = try await NodeFixture(warehouse: warehouse)
        defer { fixture.close() }
        return try await body(fixture)
    }

    func close() {
        node.close()
        try? FileManager.default.removeItem(atPath: directory.path)
    }

    /// What a refused request must leave untouched: the materialised state, the ledger size and the tokens.
    struct Snapshot: Equatable {
        var state: String
        var operations: Int
        var tokens: [TokenRecord]
    }

    func snapshot() throws -> Snapshot {
        let reader = node.store.reader
        return Snapshot(state: try reader.materializedStateDump(), operations: try reader.operationCount(), tokens: try reader.tokens())
    }

    /// Every operation this node recorded itself, for feeding a peer with `.merge`.
    func ownOperations() throws -> [LedgerOperation] {
        try node.store.reader.operations(origin: node.store.replica, after: 0, limit: 10_000)
    }
}
