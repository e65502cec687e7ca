import CRDT
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Store
import SyncServer
import Testing

/// `GET /v1/backup` through `buildRouter(node:)`: the admin gets a sound copy of the database, others are refused.
@Suite("API: backup", .timeLimit(.minutes(3)))
struct BackupRouterTests {
    @Test func anAdminGetsAConsistentCopyOfTheDatabase() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            try await api.move("receive", "A", 7)
            try await api.move("sell", "A", 2)
            let response = try await api.expectStatus(.ok, .get, "/v1/backup", token: api.admin)
            #expect(response.headers[.contentType] == "application/vnd.sqlite3")
            #expect(response.headers[.contentLength] == String(response.body.readableBytes))
            #expect(response.headers[HTTPField.Name("x-inv-operations")!] == "3")
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("inv-backup-\(UUID().uuidString.prefix(8)).sqlite").path
            defer { try? FileManager.default.removeItem(atPath: file) }
            #expect(FileManager.default.createFile(atPath: file, contents: Data(response.body.readableBytesView)))
            let summary = try DatabaseBackup.inspect(path: file)
            #expect(summary.warehouse == "MAD")
            #expect(summary.operations == 3)
            #expect(summary.versionVector == VersionVector([try ReplicaID("MAD"): 3]))
            #expect(!summary.catchingUp)
            // The temporary copy made for the response is gone from the data directory.
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: api.fixture.directory.path).filter { $0.contains("backup") }
            #expect(leftovers.isEmpty, "\(leftovers)")
        }
    }

    @Test func staffReportersAndStrangersAreRefused() async throws {
        try await APISession.with { api in
            try await api.expectRefused(.get, "/v1/backup", token: nil, status: .unauthorized, code: "unauthorized")
            try await api.expectRefused(.get, "/v1/backup", token: "inv_nope_nope", status: .unauthorized, code: "unauthorized")
            try await api.expectRefused(.get, "/v1/backup", token: api.staff, status: .forbidden, code: "forbidden")
            try await api.expectRefused(.get, "/v1/backup", token: api.reporter, status: .forbidden, code: "forbidden")
        }
    }

    /// A node whose database was prepared by a restore: reads answer, every local write is 503 `catching_up`.
    @Test func aNodeCatchingUpRefusesWritesWith503AndAnswersReads() async throws {
        let directory = DataDirectory(path: FileManager.default.temporaryDirectory.appendingPathComponent("inv-api-\(UUID().uuidString.prefix(8).lowercased())").path)
        defer { try? FileManager.default.removeItem(atPath: directory.path) }
        let admin = try await NodeSetup.create(directory: directory, warehouse: "MAD", listen: "127.0.0.1:0").adminToken
        _ = try DatabaseBackup.prepareForRestore(path: directory.databaseFile, warehouse: "MAD")
        let node = try InvNode(directory: directory)
        defer { node.close() }
        let app = Application(router: buildRouter(node: node))
        try await app.test(.router) { client in
            for (method, uri, body) in [
                (HTTPRequest.Method.post, "/v1/products", #"{"sku": "A", "name": "A"}"#),
                (.post, "/v1/movements", #"{"type": "receive", "sku": "A", "quantity": 1}"#),
            ] {
                let refused = try await client.send(method, uri, token: admin, json: body)
                #expect(refused.status == .serviceUnavailable, "\(uri): \(refused.text)")
                #expect(refused.errorCode == "catching_up", "\(uri): \(refused.text)")
            }
            let status = try await client.send(.get, "/v1/status", token: admin)
            #expect(status.status == .ok)
            #expect(try status.object().bool("catching_up") == true)
            #expect(try await client.send(.get, "/v1/products", token: admin).status == .ok)
        }
        #expect(try node.store.reader.operationCount() == 0)
    }
}
