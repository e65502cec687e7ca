import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Store
import SyncServer
import Testing

/// `inv cert issue W` for a warehouse the cluster already knows, then `inv init --join`: the replacement node
/// catches up before it writes, even when the operator skips `inv restore`.
@Suite("Disaster recovery: joining as an existing warehouse", .timeLimit(.minutes(3)))
struct DisasterRecoveryJoinTests {
    @Test func aBundleForAKnownWarehouseMakesTheNewNodeCatchUpBeforeWriting() async throws {
        try await NodeFixture.with(warehouse: "MAD") { mad in
            // MAD knows SEV (a member); BIO is new.
            _ = try await mad.node.store.submit(.setMember(warehouse: "SEV", peerURL: "https://sev.example:8443", retired: false))
            // The fixture listens on port 0, which is no URL a member can be reached at: the bundles name a real one.
            var known = try JoinBundle.issue(warehouse: "SEV", hosts: [], directory: mad.directory, config: mad.node.config)
            var fresh = try JoinBundle.issue(warehouse: "BIO", hosts: [], directory: mad.directory, config: mad.node.config)
            known.peerURL = "https://127.0.0.1:9"
            fresh.peerURL = "https://127.0.0.1:9"
            #expect(known.version == 2 && known.existingWarehouse == true)
            #expect(fresh.existingWarehouse == false)

            let root = FileManager.default.temporaryDirectory.appendingPathComponent("inv-dr-\(UUID().uuidString.prefix(8).lowercased())").path
            defer { try? FileManager.default.removeItem(atPath: root) }
            let bundlePath = root + "-sev.join"
            defer { try? FileManager.default.removeItem(atPath: bundlePath) }
            try known.write(to: bundlePath)
            let read = try JoinBundle.read(from: bundlePath)
            #expect(read.existingWarehouse == true)

            // A new warehouse's node writes at once.
            let bio = DataDirectory(path: root + "/BIO")
            _ = try await NodeSetup.create(directory: bio, warehouse: "BIO", listen: "127.0.0.1:0", join: fresh)
            let bioNode = try InvNode(directory: bio)
            #expect(try !bioNode.store.reader.isCatchingUp())
            bioNode.close()

            // The replacement of SEV refuses writes (503 catching_up) until it has caught up.
            let sev = DataDirectory(path: root + "/SEV")
            let admin = try await NodeSetup.create(directory: sev, warehouse: "SEV", listen: "127.0.0.1:0", join: read).adminToken
            let node = try InvNode(directory: sev)
            defer { node.close() }
            #expect(try node.store.reader.isCatchingUp())
            let app = Application(router: buildRouter(node: node))
            try await app.test(.router) { client in
                let refused = try await client.send(.post, "/v1/products", token: admin, json: #"{"sku": "A", "name": "A"}"#)
                #expect(refused.status == .serviceUnavailable, "\(refused.text)")
                #expect(refused.errorCode == "catching_up", "\(refused.text)")
                #expect(try await client.send(.get, "/v1/status", token: admin).object().bool("catching_up") == true)
                // What peer sync sends once every active member has been caught up with.
                _ = try await node.store.submit(.finishCatchUp)
                let created = try await client.send(.post, "/v1/products", token: admin, json: #"{"sku": "A", "name": "A"}"#)
                #expect(created.status == .created, "\(created.text)")
            }
        }
    }

    @Test func aVersionOneBundleIsStillReadAsANewWarehouses() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("inv-v1-\(UUID().uuidString.prefix(8)).join").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let v1 = #"{"version": 1, "warehouse": "SEV", "ca_certificate": "x", "certificate": "y", "private_key": "z", "peer_warehouse": "MAD", "peer_url": "https://mad:8444"}"#
        try Data(v1.utf8).write(to: URL(fileURLWithPath: path))
        let bundle = try JoinBundle.read(from: path)
        #expect(bundle.version == 1 && bundle.existingWarehouse == nil)
        try Data(v1.replacingOccurrences(of: #""version": 1"#, with: #""version": 3"#).utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: (any Error).self) { try JoinBundle.read(from: path) }
    }
}
