import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SyncServer
import Testing

/// A node fixture and a router test client talking to `buildRouter(node:)`, with the checks every API test repeats.
struct APISession: Sendable {
    let client: any TestClientProtocol
    let fixture: NodeFixture

    /// Runs `body` against a fresh node of `warehouse` through `app.test(.router)`.
    static func with(warehouse: String = "MAD", _ body: @Sendable (APISession) async throws -> Void) async throws {
        try await NodeFixture.with(warehouse: warehouse) { fixture in
            let app = Application(router: buildRouter(node: fixture.node))
            try await app.test(.router) { client in try await body(APISession(client: client, fixture: fixture)) }
        }
    }

    var admin: String { fixture.admin }
    var staff: String { fixture.staff }
    var reporter: String { fixture.reporter }

    func send(
        _ method: HTTPRequest.Method, _ uri: String, token: String?, json: String? = nil, bytes: [UInt8]? = nil,
        authorization: String? = nil
    ) async throws -> TestResponse {
        try await client.send(method, uri, token: token, json: json, bytes: bytes, authorization: authorization)
    }

    /// Sends a request that must be refused with `status` and error `code`, and checks it changed nothing.
    @discardableResult
    func expectRefused(
        _ method: HTTPRequest.Method, _ uri: String, token: String?, json: String? = nil, bytes: [UInt8]? = nil,
        authorization: String? = nil, status: HTTPResponse.Status, code: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> TestResponse {
        let before = try fixture.snapshot()
        let response = try await send(method, uri, token: token, json: json, bytes: bytes, authorization: authorization)
        let request = "\(method) \(uri) \(json.map { String($0.prefix(120)) } ?? bytes.map { "<\($0.count) bytes>" } ?? "")"
        #expect(response.status == status, "\(request): \(response.status) \(response.text.prefix(300))", sourceLocation: sourceLocation)
        #expect(response.errorCode == code, "\(request): \(response.text.prefix(300))", sourceLocation: sourceLocation)
        #expect(response.headers[.contentType] == "application/json; charset=utf-8", sourceLocation: sourceLocation)
        if status == .unauthorized {
            #expect(response.headers[.wwwAuthenticate] == "Bearer realm=\"inv\"", sourceLocation: sourceLocation)
        }
        #expect(try fixture.snapshot() == before, "\(request) changed the node", sourceLocation: sourceLocation)
        return response
    }

    /// Sends a request that must succeed with `status`; returns the response.
    @discardableResult
    func expectStatus(
        _ status: HTTPResponse.Status, _ method: HTTPRequest.Method, _ uri: String, token: String?, json: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> TestResponse {
        let response = try await send(method, uri, token: token, json: json)
        #expect(response.status == status, "\(method) \(uri): \(response.status) \(response.text.prefix(300))", sourceLocation: sourceLocation)
        return response
    }

    /// Creates a product as admin (201).
    @discardableResult
    func createProduct(_ sku: String, reorderPoint: Int? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSONObject {
        let point = reorderPoint.map { ", \"reorder_point\": \($0)" } ?? ""
        return try await expectStatus(
            .created, .post, "/v1/products", token: admin, json: #"{"sku": "\#(sku)", "name": "Product \#(sku)"\#(point)}"#,
            sourceLocation: sourceLocation
        ).object()
    }

    /// Posts a movement as staff and expects `status` (201 for a new one).
    @discardableResult
    func move(
        _ type: String, _ sku: String, _ quantity: Int, extra: String = "", status: HTTPResponse.Status = .created,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSONObject {
        try await expectStatus(
            status, .post, "/v1/movements", token: staff,
            json: #"{"type": "\#(type)", "sku": "\#(sku)", "quantity": \#(quantity)\#(extra)}"#, sourceLocation: sourceLocation
        ).object()
    }

    /// This node's stock of `sku` (`scope=local`).
    func stock(_ sku: String) async throws -> Int64? {
        try await expectStatus(.ok, .get, "/v1/stock?sku=\(sku)", token: reporter).array().first?.int("quantity")
    }
}
