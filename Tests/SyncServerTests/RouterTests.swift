import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import Store
import SyncServer
import Testing

/// The node's HTTP API through `buildRouter(node:)` and `app.test(.router)`: every endpoint's success and each of
/// its refusals, and that a refusal changes nothing (``APISession/expectRefused``).
enum RouterTests {
    static let movementKeys: Set<String> = [
        "id", "type", "sku", "warehouse", "quantity", "delta", "origin", "sequence", "timestamp", "user", "reason",
        "reference", "transfer_id", "counterpart", "document",
    ]
    static let productKeys: Set<String> = ["sku", "name", "description", "price", "reorder_point", "deleted", "updated_at", "barcodes"]
    static let tokenKeys: Set<String> = ["id", "name", "role", "created_at", "revoked"]

    static func uuid() -> String { UUID().uuidString.lowercased() }

    /// An ISO 8601 timestamp as the API writes them (UTC, milliseconds).
    static func isTimestamp(_ text: String?) -> Bool {
        guard let text else { return false }
        return DateParsing.milliseconds(text) != nil && text.hasSuffix("Z") && text.contains(".")
    }

    static func day(offset: TimeInterval) -> String {
        Date(timeIntervalSinceNow: offset).formatted(Date.ISO8601FormatStyle().year().month().day())
    }
}

// MARK: - Authentication

@Suite("API: bearer tokens and roles", .timeLimit(.minutes(3)))
struct AuthenticationRouterTests {
    @Test func everyRouteRefusesAMissingToken() async throws {
        try await APISession.with { api in
            let routes = buildRouter(node: api.fixture.node).routes
            #expect(routes.count >= 19)
            for route in routes {
                let uri = route.path.description
                    .replacingOccurrences(of: "{sku}", with: "A").replacingOccurrences(of: "{warehouse}", with: "SEV")
                    .replacingOccurrences(of: "{id}", with: RouterTests.uuid())
                try await api.expectRefused(
                    route.method, uri, token: nil, json: #"{"type": "receive", "sku": "A", "quantity": 1}"#,
                    status: .unauthorized, code: "unauthorized")
            }
        }
    }

    @Test func wrongOrMalformedTokensAre401() async throws {
        try await APISession.with { api in
            let forged = api.admin.dropLast() + (api.admin.last == "0" ? "1" : "0")
            let staffID = api.fixture.staffID
            let adminSecret = api.admin.split(separator: "_")[2]
            for authorization in [
                "Bearer", "Bearer ", "Bearer inv_nope_nope", "Bearer \(forged)", "bearer \(api.admin)", "Basic \(api.admin)",
                "Bearer inv_\(staffID)_\(adminSecret)", "Bearer \(api.admin)x", "Bearer xinv\(api.admin.dropFirst(3))",
                "Bearer inv__", "Bearer inv_\(staffID)", "Bearer \t ", "Bearer \(api.admin.dropFirst(4)) inv_",
            ] {
                try await api.expectRefused(
                    .post, "/v1/movements", token: nil, json: #"{"type": "receive", "sku": "A", "quantity": 1}"#,
                    authorization: authorization, status: .unauthorized, code: "unauthorized")
            }
            // Surrounding spaces are forgiven; the token still works.
            try await api.expectStatus(.ok, .get, "/v1/status", token: " \(api.reporter) ")
            try await api.expectStatus(.ok, .get, "/v1/status", token: "\t\(api.reporter) \t")
        }
    }

    @Test func weakerRolesAre403() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            try await api.move("receive", "A", 5)
            let movement = #"{"type": "sell", "sku": "A", "quantity": 1}"#
            try await api.expectRefused(.post, "/v1/movements", token: api.reporter, json: movement, status: .forbidden, code: "forbidden")
            try await api.expectRefused(
                .post, "/v1/transfers/\(RouterTests.uuid())/accept", token: api.reporter, json: "{}", status: .forbidden,
                code: "forbidden")
            let product = #"{"sku": "B", "name": "B"}"#
            for token in [api.staff, api.reporter] {
                try await api.expectRefused(.post, "/v1/products", token: token, json: product, status: .forbidden, code: "forbidden")
                try await api.expectRefused(.patch, "/v1/products/A", token: token, json: #"{"name": "x"}"#, status: .forbidden, code: "forbidden")
                try await api.expectRefused(.delete, "/v1/products/A", token: token, status: .forbidden, code: "forbidden")
                try await api.expectRefused(
                    .put, "/v1/products/A/reorder-points/MAD", token: token, json: #"{"reorder_point": 3}"#, status: .forbidden,
                    code: "forbidden")
                try await api.expectRefused(.post, "/v1/tokens", token: token, json: #"{"role": "admin"}"#, status: .forbidden, code: "forbidden")
                try await api.expectRefused(.get, "/v1/tokens", token: token, status: .forbidden, code: "forbidden")
                try await api.expectRefused(.delete, "/v1/tokens/\(api.fixture.adminID)", token: token, status: .forbidden, code: "forbidden")
            }
            let forbidden = try await api.send(.post, "/v1/movements", token: api.reporter, json: movement)
            #expect(try forbidden.object().object("error")?.string("message") == "this needs a staff token; yours is reporter")
            let notAdmin = try await api.send(.get, "/v1/tokens", token: api.staff)
            #expect(try notAdmin.object().object("error")?.string("message") == "this needs an admin token; yours is staff")
        }
    }

    @Test func unknownRouteIs404() async throws {
        try await APISession.with { api in
            try await api.expectRefused(.get, "/v1/nothing-here", token: api.admin, status: .notFound, code: "not_found")
            try await api.expectRefused(.get, "/v2/stock", token: api.admin, status: .notFound, code: "not_found")
            // A known path with a method it does not serve: 405, with the methods it serves.
            let put = try await api.expectRefused(
                .put, "/v1/stock", token: api.admin, json: "{}", status: .methodNotAllowed, code: "method_not_allowed")
            #expect(put.headers[.allow] == "GET")
            let delete = try await api.expectRefused(
                .delete, "/v1/movements/\(RouterTests.uuid())", token: api.admin, status: .methodNotAllowed, code: "method_not_allowed")
            #expect(delete.headers[.allow] == "GET")
        }
    }
}

// MARK: - Products

@Suite("API: products", .timeLimit(.minutes(3)))
struct ProductsRouterTests {
    @Test func createShowListUpdateDelete() async throws {
        try await APISession.with { api in
            let created = try await api.expectStatus(
                .created, .post, "/v1/products", token: api.admin,
                json: #"{"sku": "TSHIRT-M", "name": "T-shirt M", "description": "Cotton", "price": "012.50", "reorder_point": 5}"#)
            #expect(created.headers[.contentType] == "application/json; charset=utf-8")
            let product = try created.object()
            #expect(product.keySet == RouterTests.productKeys)
            #expect(product.string("sku") == "TSHIRT-M")
            #expect(product.string("name") == "T-shirt M")
            #expect(product.string("description") == "Cotton")
            #expect(product.string("price") == "12.50")
            #expect(product.int("reorder_point") == 5)
            #expect(product.bool("deleted") == false)
            #expect(RouterTests.isTimestamp(product.string("updated_at")))

            let minimal = try await api.createProduct("CAP")
            #expect(minimal.string("description") == "")
            #expect(minimal.isNull("price"))
            #expect(minimal.isNull("reorder_point"))

            let shown = try await api.expectStatus(.ok, .get, "/v1/products/TSHIRT-M", token: api.reporter).object()
            #expect(shown.keySet == RouterTests.productKeys.union(["warehouse_reorder_points"]))
            #expect(shown.object("warehouse_reorder_points")?.isEmpty == true)

            let listed = try await api.expectStatus(.ok, .get, "/v1/products", token: api.reporter).array()
            #expect(listed.map { $0.string("sku") } == ["CAP", "TSHIRT-M"])
            #expect(listed.allSatisfy { $0.keySet == RouterTests.productKeys })

            let renamed = try await api.expectStatus(
                .ok, .patch, "/v1/products/TSHIRT-M", token: api.admin, json: #"{"name": "T-shirt (M)", "price": null}"#
            ).object()
            #expect(renamed.string("name") == "T-shirt (M)")
            #expect(renamed.isNull("price"))
            #expect(renamed.string("description") == "Cotton")
            #expect(renamed.int("reorder_point") == 5)
            let cleared = try await api.expectStatus(
                .ok, .patch, "/v1/products/TSHIRT-M", token: api.admin, json: #"{"reorder_point": null, "description": ""}"#
            ).object()
            #expect(cleared.isNull("reorder_point"))
            #expect(cleared.string("description") == "")

            // An override is for a member warehouse (or this one).
            _ = try await api.fixture.node.store.submit(.setMember(warehouse: "SEV", peerURL: "https://sev.example:8444", retired: false))
            let overridden = try await api.expectStatus(
                .ok, .put, "/v1/products/TSHIRT-M/reorder-points/SEV", token: api.admin, json: #"{"reorder_point": 7}"#
            ).object()
            #expect(overridden.object("warehouse_reorder_points")?.int("SEV") == 7)
            let removed = try await api.expectStatus(
                .ok, .put, "/v1/products/TSHIRT-M/reorder-points/SEV", token: api.admin, json: #"{"reorder_point": null}"#
            ).object()
            #expect(removed.object("warehouse_reorder_points")?.isEmpty == true)

            let deleted = try await api.expectStatus(.ok, .delete, "/v1/products/CAP", token: api.admin).object()
            #expect(deleted.bool("deleted") == true)
            #expect(try await api.expectStatus(.ok, .get, "/v1/products", token: api.reporter).array().map { $0.string("sku") } == ["TSHIRT-M"])
            let all = try await api.expectStatus(.ok, .get, "/v1/products?include_deleted=true", token: api.reporter).array()
            #expect(all.map { $0.string("sku") } == ["CAP", "TSHIRT-M"])
            #expect(try await api.expectStatus(.ok, .get, "/v1/products/CAP", token: api.reporter).object().bool("deleted") == true)

            // A deleted product may be created again.
            try await api.createProduct("CAP")
            #expect(try api.fixture.node.store.reader.operationCount() == 8)
        }
    }

    @Test func refusals() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            try await api.createProduct("GONE")
            try await api.expectStatus(.ok, .delete, "/v1/products/GONE", token: api.admin)
            let admin = api.admin
            // 409
            try await api.expectRefused(.post, "/v1/products", token: admin, json: #"{"sku": "A", "name": "again"}"#, status: .conflict, code: "product_exists")
            try await api.expectRefused(.patch, "/v1/products/GONE", token: admin, json: #"{"name": "x"}"#, status: .conflict, code: "product_deleted")
            try await api.expectRefused(.delete, "/v1/products/GONE", token: admin, status: .conflict, code: "product_deleted")
            try await api.expectRefused(
                .put, "/v1/products/GONE/reorder-points/MAD", token: admin, json: #"{"reorder_point": 1}"#, status: .conflict,
                code: "product_deleted")
            // 404
            try await api.expectRefused(.get, "/v1/products/NOPE", token: api.reporter, status: .notFound, code: "unknown_sku")
            try await api.expectRefused(.patch, "/v1/products/NOPE", token: admin, json: #"{"name": "x"}"#, status: .notFound, code: "unknown_sku")
            try await api.expectRefused(.delete, "/v1/products/NOPE", token: admin, status: .notFound, code: "unknown_sku")
            try await api.expectRefused(
                .put, "/v1/products/NOPE/reorder-points/MAD", token: admin, json: #"{"reorder_point": 1}"#, status: .notFound,
                code: "unknown_sku")
            // 422
            let longSKU = String(repeating: "x", count: 65)
            for json in [
                #"{"sku": "bad sku", "name": "x"}"#, #"{"sku": "", "name": "x"}"#, #"{"sku": "\#(longSKU)", "name": "x"}"#,
                #"{"sku": "B", "name": ""}"#, #"{"sku": "B", "name": "   "}"#, #"{"sku": "B", "name": "a\u0007b"}"#,
                #"{"sku": "B", "name": "\#(String(repeating: "n", count: 201))"}"#,
                #"{"sku": "B", "name": "x", "price": "1.23456"}"#, #"{"sku": "B", "name": "x", "price": "-1"}"#,
                #"{"sku": "B", "name": "x", "price": "1e3"}"#, #"{"sku": "B", "name": "x", "reorder_point": -1}"#,
                #"{"sku": "B", "name": "x", "reorder_point": 1000000001}"#,
            ] {
                try await api.expectRefused(.post, "/v1/products", token: admin, json: json, status: .unprocessableContent, code: "invalid_input")
            }
            try await api.expectRefused(.get, "/v1/products/bad!sku", token: api.reporter, status: .unprocessableContent, code: "invalid_input")
            try await api.expectRefused(.get, "/v1/products/\(longSKU)", token: api.reporter, status: .unprocessableContent, code: "invalid_input")
            try await api.expectRefused(.patch, "/v1/products/A", token: admin, json: "{}", status: .unprocessableContent, code: "invalid_input")
            try await api.expectRefused(.patch, "/v1/products/A", token: admin, json: #"{"name": ""}"#, status: .unprocessableContent, code: "invalid_input")
            try await api.expectRefused(.patch, "/v1/products/A", token: admin, json: #"{"price": "abc"}"#, status: .unprocessableContent, code: "invalid_input")
            try await api.expectRefused(.delete, "/v1/products/bad!sku", token: admin, status: .unprocessableContent, code: "invalid_input")
            try await api.expectRefused(
                .put, "/v1/products/A/reorder-points/bad!wh", token: admin, json: #"{"reorder_point": 1}"#, status: .unprocessableContent,
                code: "invalid_input")
            try await api.expectRefused(
                .put, "/v1/products/A/reorder-points/MAD", token: admin, json: #"{"reorder_point": -5}"#, status: .unprocessableContent,
                code: "invalid_input")
            // 400
            for json in [
                "", "{", "[]", "null", #"{"name": "x"}"#, #"{"sku": "B"}"#, #"{"sku": 5, "name": "x"}"#,
                #"{"sku": "B", "name": "x", "price": 12.5}"#, #"{"sku": "B", "name": "x", "reorder_point": "5"}"#,
                #"{"sku": "B", "name": "x", "reorder_point": 1.5}"#,
            ] {
                try await api.expectRefused(.post, "/v1/products", token: admin, json: json, status: .badRequest, code: "bad_request")
            }
            try await api.expectRefused(.patch, "/v1/products/A", token: admin, json: #"{"reorder_point": "x"}"#, status: .badRequest, code: "bad_request")
            try await api.expectRefused(.patch, "/v1/products/A", token: admin, json: #"{"name": 1}"#, status: .badRequest, code: "bad_request")
            try await api.expectRefused(
                .put, "/v1/products/A/reorder-points/MAD", token: admin, json: #"{"reorder_point": "5"}"#, status: .badRequest,
                code: "bad_request")
            try await api.expectRefused(
                .post, "/v1/products", token: admin, bytes: Array(#"{"sku": "B", "name": ""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8),
                status: .badRequest, code: "bad_request")
            // 413
            let huge = #"{"sku": "B", "name": "x", "description": "\#(String(repeating: "d", count: 1 << 20))"}"#
            try await api.expectRefused(.post, "/v1/products", token: admin, json: huge, status: .contentTooLarge, code: "body_too_large")
            try await api.expectRefused(.patch, "/v1/products/A", token: admin, json: huge, status: .contentTooLarge, code: "body_too_large")
        }
    }
}

// MARK: - Movements

@Suite("API: movements", .timeLimit(.minutes(3)))
struct MovementsRouterTests {
    @Test func receiveSellAdjustAndShow() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            let id = RouterTests.uuid()
            let receipt = try await api.expectStatus(
                .created, .post, "/v1/movements", token: api.staff,
                json: #"{"type": "receive", "sku": "A", "quantity": 10, "id": "\#(id)", "reference": "PO-1"}"#)
            let received = try receipt.object()
            #expect(received.keySet == RouterTests.movementKeys)
            #expect(received.string("id") == id)
            #expect(received.string("type") == "receive")
            #expect(received.string("sku") == "A")
            #expect(received.string("warehouse") == "MAD")
            #expect(received.int("quantity") == 10)
            #expect(received.int("delta") == 10)
            #expect(received.string("origin") == "MAD")
            #expect(received.int("sequence") == 2)
            #expect(RouterTests.isTimestamp(received.string("timestamp")))
            #expect(received.string("user") == "till-1")
            #expect(received.isNull("reason"))
            #expect(received.string("reference") == "PO-1")
            #expect(received.isNull("transfer_id"))
            #expect(received.isNull("counterpart"))

            let sold = try await api.move("sell", "A", 3)
            #expect(sold.int("delta") == -3)
            #expect(sold.int("quantity") == 3)
            #expect(MovementID.isValid(sold.string("id") ?? ""), "a generated id is a lowercase UUID")
            let adjusted = try await api.move("adjust", "A", -2, extra: #", "reason": "breakage""#)
            #expect(adjusted.int("quantity") == -2)
            #expect(adjusted.int("delta") == -2)
            #expect(adjusted.string("reason") == "breakage")
            try await api.move("adjust", "A", 4, extra: #", "reason": "found""#)
            #expect(try await api.stock("A") == 9)

            let shown = try await api.expectStatus(.ok, .get, "/v1/movements/\(id)", token: api.reporter)
            #expect(shown.canonicalJSON == receipt.canonicalJSON)
            // Any case of the UUID finds it.
            try await api.expectStatus(.ok, .get, "/v1/movements/\(id.uppercased())", token: api.reporter)
            try await api.expectRefused(.get, "/v1/movements/\(RouterTests.uuid())", token: api.reporter, status: .notFound, code: "not_found")
            try await api.expectRefused(.get, "/v1/movements/not-a-uuid", token: api.reporter, status: .notFound, code: "not_found")
        }
    }

    @Test func repeatedIDAnswers200WithTheOriginal() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            let id = RouterTests.uuid()
            let body = #"{"type": "receive", "sku": "A", "quantity": 5, "id": "\#(id)"}"#
            let first = try await api.expectStatus(.created, .post, "/v1/movements", token: api.staff, json: body)
            let before = try api.fixture.snapshot()
            let again = try await api.expectStatus(.ok, .post, "/v1/movements", token: api.staff, json: body)
            #expect(again.canonicalJSON == first.canonicalJSON)
            // The same id in upper case is the same movement.
            let upper = body.replacingOccurrences(of: id, with: id.uppercased())
            let shouted = try await api.expectStatus(.ok, .post, "/v1/movements", token: api.staff, json: upper)
            #expect(shouted.canonicalJSON == first.canonicalJSON)
            #expect(try api.fixture.snapshot() == before)
            #expect(try await api.stock("A") == 5)

            // The same id for a different movement is a conflict.
            for json in [
                #"{"type": "receive", "sku": "A", "quantity": 6, "id": "\#(id)"}"#,
                #"{"type": "sell", "sku": "A", "quantity": 5, "id": "\#(id)"}"#,
            ] {
                try await api.expectRefused(.post, "/v1/movements", token: api.staff, json: json, status: .conflict, code: "idempotency_conflict")
            }
            try await api.createProduct("B")
            try await api.expectRefused(
                .post, "/v1/movements", token: api.staff, json: #"{"type": "receive", "sku": "B", "quantity": 5, "id": "\#(id)"}"#,
                status: .conflict, code: "idempotency_conflict")
        }
    }

    @Test func refusals() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            try await api.createProduct("GONE")
            try await api.move("receive", "A", 2)
            try await api.expectStatus(.ok, .delete, "/v1/products/GONE", token: api.admin)
            func refuse(_ json: String, _ status: HTTPResponse.Status, _ code: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
                try await api.expectRefused(.post, "/v1/movements", token: api.staff, json: json, status: status, code: code, sourceLocation: sourceLocation)
            }
            // 400: malformed JSON, wrong types, unknown movement type
            for json in [
                "", "{", "not json", "[]", #"{"type": "receive", "sku": "A"}"#, #"{"sku": "A", "quantity": 1}"#,
                #"{"type": "receive", "sku": "A", "quantity": "5"}"#, #"{"type": "receive", "sku": "A", "quantity": 1.5}"#,
                #"{"type": "receive", "sku": "A", "quantity": 1e30}"#, #"{"type": "receive", "sku": "A", "quantity": null}"#,
                #"{"type": "receive", "sku": "A", "quantity": 9223372036854775808}"#,
                #"{"type": "receive", "sku": "A", "quantity": true}"#, #"{"type": "receive", "sku": 1, "quantity": 1}"#,
                #"{"type": "steal", "sku": "A", "quantity": 1}"#, #"{"type": "RECEIVE", "sku": "A", "quantity": 1}"#,
                #"{"type": "accept", "sku": "A", "quantity": 1}"#, #"{"type": "receive", "sku": "A", "quantity": 1, "id": 7}"#,
            ] {
                try await refuse(json, .badRequest, "bad_request")
            }
            let malformed = try await api.send(.post, "/v1/movements", token: api.staff, json: #"{"type": "receive", "sku": "A", "quantity": "5"}"#)
            #expect(try malformed.object().object("error")?.string("message") == "wrong type for field quantity")
            try await api.expectRefused(
                .post, "/v1/movements", token: api.staff,
                bytes: Array(#"{"type": "receive", "sku": "A", "quantity": 1, "reason": ""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8),
                status: .badRequest, code: "bad_request")
            // 413
            try await refuse(
                #"{"type": "receive", "sku": "A", "quantity": 1, "reason": "\#(String(repeating: "r", count: 1 << 20))"}"#,
                .contentTooLarge, "body_too_large")
            // Just under 1 MiB is read (and then refused for its over-long reason).
            let padding = (1 << 20) - 100
            try await refuse(
                #"{"type": "receive", "sku": "A", "quantity": 1, "reason": "\#(String(repeating: "r", count: padding))"}"#,
                .unprocessableContent, "invalid_input")
            // 422: quantities
            for quantity in [0, -1, 1_000_000_001, Int.min, Int.max] {
                try await refuse(#"{"type": "receive", "sku": "A", "quantity": \#(quantity)}"#, .unprocessableContent, "invalid_quantity")
                try await refuse(#"{"type": "sell", "sku": "A", "quantity": \#(quantity)}"#, .unprocessableContent, "invalid_quantity")
            }
            for quantity in [0, 1_000_000_001, -1_000_000_001, Int.min] {
                try await refuse(
                    #"{"type": "adjust", "sku": "A", "quantity": \#(quantity), "reason": "count"}"#, .unprocessableContent, "invalid_quantity")
            }
            // 422: other input
            for json in [
                #"{"type": "receive", "sku": "bad sku", "quantity": 1}"#, #"{"type": "receive", "sku": "", "quantity": 1}"#,
                #"{"type": "receive", "sku": "A", "quantity": 1, "id": "not-a-uuid"}"#,
                #"{"type": "adjust", "sku": "A", "quantity": 1}"#, #"{"type": "adjust", "sku": "A", "quantity": 1, "reason": "  "}"#,
                #"{"type": "transfer", "sku": "A", "quantity": 1}"#, #"{"type": "transfer", "sku": "A", "quantity": 1, "to": "MAD"}"#,
                #"{"type": "transfer", "sku": "A", "quantity": 1, "to": "bad warehouse"}"#,
                #"{"type": "sell", "sku": "A", "quantity": 1, "to": "SEV"}"#,
                #"{"type": "receive", "sku": "A", "quantity": 1, "reason": "\#(String(repeating: "r", count: 501))"}"#,
                #"{"type": "receive", "sku": "A", "quantity": 1, "reference": "a\u0000b"}"#,
            ] {
                try await refuse(json, .unprocessableContent, "invalid_input")
            }
            // 404 and 409
            try await refuse(#"{"type": "receive", "sku": "NOPE", "quantity": 1}"#, .notFound, "unknown_sku")
            try await refuse(#"{"type": "receive", "sku": "GONE", "quantity": 1}"#, .conflict, "product_deleted")
            try await refuse(#"{"type": "sell", "sku": "A", "quantity": 3}"#, .conflict, "insufficient_stock")
            try await refuse(#"{"type": "adjust", "sku": "A", "quantity": -3, "reason": "count"}"#, .conflict, "insufficient_stock")
            try await refuse(#"{"type": "transfer", "sku": "A", "quantity": 3, "to": "SEV"}"#, .conflict, "insufficient_stock")
            let oversold = try await api.send(.post, "/v1/movements", token: api.staff, json: #"{"type": "sell", "sku": "A", "quantity": 3}"#)
            #expect(try oversold.object().object("error")?.string("message") == "not enough stock of A in MAD: 2 on hand, 3 requested")
            #expect(try await api.stock("A") == 2)
            // 422: a transfer to a warehouse that is not an active member (a single node knows nobody to receive it)
            let nowhere = try await api.expectRefused(
                .post, "/v1/movements", token: api.staff, json: #"{"type": "transfer", "sku": "A", "quantity": 1, "to": "NOWHERE"}"#,
                status: .unprocessableContent, code: "unknown_warehouse")
            #expect(try nowhere.object().object("error")?.string("message") == "unknown warehouse NOWHERE: not a member of this cluster")
            _ = try await api.fixture.node.store.submit(.setMember(warehouse: "SEV", peerURL: "https://sev.example:8443", retired: true))
            let retired = try await api.expectRefused(
                .post, "/v1/movements", token: api.staff, json: #"{"type": "transfer", "sku": "A", "quantity": 1, "to": "SEV"}"#,
                status: .unprocessableContent, code: "retired_warehouse")
            #expect(try retired.object().object("error")?.string("message") == "warehouse SEV is retired")
            #expect(try await api.stock("A") == 2)
        }
    }
}

// MARK: - Transfers

@Suite("API: transfers between two nodes", .timeLimit(.minutes(3)))
struct TransfersRouterTests {
    @Test func shipMergeAcceptAcrossTwoNodes() async throws {
        try await APISession.with(warehouse: "MAD") { mad in
            _ = try await mad.fixture.node.store.submit(.setMember(warehouse: "SEV", peerURL: "https://sev.example:8443", retired: false))
            try await mad.createProduct("A")
            try await mad.move("receive", "A", 10)
            let shipped = try await mad.move("transfer", "A", 4, extra: #", "to": "SEV", "reference": "TR-1""#)
            let transferID = try #require(shipped.string("id"))
            #expect(shipped.string("type") == "transfer")
            #expect(shipped.int("delta") == -4)
            #expect(shipped.string("transfer_id") == transferID)
            #expect(shipped.string("counterpart") == "SEV")

            let open = try await mad.expectStatus(.ok, .get, "/v1/transfers", token: mad.reporter).array()
            #expect(open.count == 1)
            #expect(open.first?.keySet == ["id", "sku", "from", "to", "quantity", "shipped", "accepted", "returned", "shipped_at"])
            #expect(open.first?.string("id") == transferID)
            #expect(open.first?.string("from") == "MAD")
            #expect(open.first?.string("to") == "SEV")
            #expect(open.first?.int("quantity") == 4)
            #expect(open.first?.int("shipped") == 4)
            #expect(open.first?.int("accepted") == 0)
            #expect(RouterTests.isTimestamp(open.first?.string("shipped_at")))

            let all = try await mad.expectStatus(.ok, .get, "/v1/stock?scope=all", token: mad.reporter).array()
            #expect(all.count == 2)
            // Warehouse rows say when that warehouse was last heard from; the in-transit row does not.
            #expect(all.first?.keySet == ["sku", "warehouse", "quantity", "product_deleted", "last_heard"])
            #expect(RouterTests.isTimestamp(all.first?.string("last_heard")))
            // The in-transit row says where the goods go.
            #expect(all.last?.keySet == ["sku", "warehouse", "quantity", "product_deleted", "in_transit_to"])
            #expect(all.last?.object("in_transit_to")?.int("SEV") == 4)
            #expect(all.map { $0.string("warehouse") } == ["MAD", "in-transit"])
            #expect(all.map { $0.int("quantity") } == [6, 4])
            let local = try await mad.expectStatus(.ok, .get, "/v1/stock", token: mad.reporter).array()
            #expect(local.map { $0.string("warehouse") } == ["MAD"])
            #expect(local.first?.keySet == ["sku", "warehouse", "quantity", "product_deleted"])
            #expect(local.first?.int("quantity") == 6)

            // Only the destination accepts.
            try await mad.expectRefused(
                .post, "/v1/transfers/\(transferID)/accept", token: mad.staff, json: "{}", status: .conflict, code: "not_destination")

            let ops = try mad.fixture.ownOperations()
            try await APISession.with(warehouse: "SEV") { sev in
                // Before the transfer reached SEV, SEV does not know it.
                try await sev.expectRefused(
                    .post, "/v1/transfers/\(transferID)/accept", token: sev.staff, json: "{}", status: .notFound, code: "unknown_transfer")
                guard case .merged(let report) = try await sev.fixture.node.store.submit(.merge(ops)) else {
                    Issue.record("merge did not report")
                    return
                }
                #expect(report.applied == ops.count)
                #expect(report.refused.isEmpty)

                let accept = "/v1/transfers/\(transferID)/accept"
                let id = RouterTests.uuid()
                try await sev.expectRefused(.post, accept, token: sev.staff, json: #"{"quantity": 5}"#, status: .conflict, code: "over_accept")
                try await sev.expectRefused(.post, accept, token: sev.staff, json: #"{"quantity": 0}"#, status: .unprocessableContent, code: "invalid_quantity")
                try await sev.expectRefused(.post, accept, token: sev.staff, json: #"{"quantity": -1}"#, status: .unprocessableContent, code: "invalid_quantity")
                try await sev.expectRefused(.post, accept, token: sev.staff, json: #"{"quantity": "3"}"#, status: .badRequest, code: "bad_request")
                try await sev.expectRefused(.post, accept, token: sev.staff, json: #"{"quantity": 1.5}"#, status: .badRequest, code: "bad_request")
                try await sev.expectRefused(.post, accept, token: sev.staff, json: "", status: .badRequest, code: "bad_request")
                try await sev.expectRefused(.post, accept, token: sev.staff, json: #"{"id": "nope"}"#, status: .unprocessableContent, code: "invalid_input")
                try await sev.expectRefused(
                    .post, accept, token: sev.staff, json: #"{"reason": "\#(String(repeating: "r", count: 1 << 20))"}"#,
                    status: .contentTooLarge, code: "body_too_large")
                try await sev.expectRefused(
                    .post, "/v1/transfers/\(RouterTests.uuid())/accept", token: sev.staff, json: "{}", status: .notFound,
                    code: "unknown_transfer")
                try await sev.expectRefused(
                    .post, "/v1/transfers/not-a-transfer/accept", token: sev.staff, json: "{}", status: .notFound, code: "unknown_transfer")

                let body = #"{"quantity": 3, "id": "\#(id)", "reason": "partial"}"#
                let accepted = try await sev.expectStatus(.created, .post, accept, token: sev.staff, json: body)
                let movement = try accepted.object()
                #expect(movement.keySet == RouterTests.movementKeys)
                #expect(movement.string("type") == "accept")
                #expect(movement.string("warehouse") == "SEV")
                #expect(movement.int("quantity") == 3)
                #expect(movement.int("delta") == 3)
                #expect(movement.string("transfer_id") == transferID)
                #expect(movement.string("counterpart") == "MAD")
                // A retry answers 200 with the original and changes nothing; the same id for another acceptance is a conflict.
                let before = try sev.fixture.snapshot()
                let again = try await sev.expectStatus(.ok, .post, accept, token: sev.staff, json: body)
                #expect(again.canonicalJSON == accepted.canonicalJSON)
                #expect(try sev.fixture.snapshot() == before)
                try await sev.expectRefused(
                    .post, accept, token: sev.staff, json: #"{"quantity": 1, "id": "\#(id)"}"#, status: .conflict, code: "idempotency_conflict")
                try await sev.expectRefused(.post, accept, token: sev.staff, json: #"{"quantity": 2}"#, status: .conflict, code: "over_accept")

                let remaining = try await sev.expectStatus(.ok, .get, "/v1/transfers", token: sev.reporter).array()
                #expect(remaining.map { $0.int("quantity") } == [1])
                #expect(remaining.map { $0.int("accepted") } == [3])
                let sevAll = try await sev.expectStatus(.ok, .get, "/v1/stock?scope=all", token: sev.reporter).array()
                #expect(sevAll.map { "\($0.string("warehouse") ?? "?")=\($0.int("quantity") ?? -1)" } == ["MAD=6", "SEV=3", "in-transit=1"])

                // Without a quantity, everything still in transit.
                let rest = try await sev.expectStatus(.created, .post, accept, token: sev.staff, json: "{}").object()
                #expect(rest.int("quantity") == 1)
                #expect(try await sev.expectStatus(.ok, .get, "/v1/transfers", token: sev.reporter).array().isEmpty)
                #expect(try await sev.stock("A") == 4)
                try await sev.expectRefused(.post, accept, token: sev.staff, json: "{}", status: .conflict, code: "over_accept")
            }
        }
    }
}

// MARK: - Reads

@Suite("API: stock, history, reports, alerts and status", .timeLimit(.minutes(3)))
struct ReadRouterTests {
    @Test func stockScopesAndFilters() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            try await api.createProduct("B")
            try await api.move("receive", "A", 3)
            let rows = try await api.expectStatus(.ok, .get, "/v1/stock", token: api.reporter).array()
            #expect(rows.map { "\($0.string("sku") ?? "?")@\($0.string("warehouse") ?? "?")=\($0.int("quantity") ?? -1)" } == ["A@MAD=3", "B@MAD=0"])
            #expect(rows.allSatisfy { $0.bool("product_deleted") == false })
            #expect(try await api.expectStatus(.ok, .get, "/v1/stock?scope=local&sku=B", token: api.reporter).array().count == 1)
            #expect(try await api.expectStatus(.ok, .get, "/v1/stock?scope=all&sku=A", token: api.reporter).array().count == 1)
            // A SKU no product has and no warehouse holds is unknown, not an empty list.
            try await api.expectRefused(.get, "/v1/stock?sku=NOPE", token: api.reporter, status: .notFound, code: "unknown_sku")
            // A deleted product stays visible while it is held, marked deleted.
            try await api.expectRefused(.delete, "/v1/products/A", token: api.admin, status: .conflict, code: "stock_held")
            try await api.expectStatus(.ok, .delete, "/v1/products/A?force=true", token: api.admin)
            let held = try await api.expectStatus(.ok, .get, "/v1/stock?sku=A", token: api.reporter).array()
            #expect(held.first?.bool("product_deleted") == true)
            #expect(held.first?.int("quantity") == 3)

            try await api.expectRefused(.get, "/v1/stock?scope=everything", token: api.reporter, status: .unprocessableContent, code: "invalid_input")
            try await api.expectRefused(.get, "/v1/stock?scope=", token: api.reporter, status: .unprocessableContent, code: "invalid_input")
            try await api.expectRefused(.get, "/v1/stock?sku=bad!sku", token: api.reporter, status: .unprocessableContent, code: "invalid_input")
        }
    }

    @Test func historyCursorWalksEveryPageOnce() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            for _ in 0..<14 { try await api.move("receive", "A", 1) }
            let everything = try await api.expectStatus(.ok, .get, "/v1/history?limit=1000", token: api.reporter).object()
            let allIDs = (everything["movements"] as? [JSONObject] ?? []).compactMap { $0.string("id") }
            #expect(allIDs.count == 15)
            #expect(everything["next_cursor"] == nil, "a page that is not full has no next_cursor")
            #expect(everything.keySet == ["movements"])
            #expect(allIDs.first == "MAD:1", "product operations are listed with origin:sequence ids")

            for limit in [1, 4, 5, 15, 100] {
                var ids: [String] = []
                var pages: [Int] = []
                var cursor: String?
                repeat {
                    let uri = "/v1/history?limit=\(limit)" + (cursor.map { "&cursor=\($0)" } ?? "")
                    let page = try await api.expectStatus(.ok, .get, uri, token: api.reporter).object()
                    let movements = try #require(page["movements"] as? [JSONObject])
                    #expect(movements.allSatisfy { $0.keySet == RouterTests.movementKeys })
                    pages.append(movements.count)
                    ids += movements.compactMap { $0.string("id") }
                    cursor = page.string("next_cursor")
                    #expect((cursor != nil) == (movements.count == limit))
                } while cursor != nil && pages.count <= 20
                #expect(ids == allIDs, "limit \(limit): pages \(pages)")
                #expect(Set(ids).count == ids.count, "limit \(limit): duplicates")
            }
        }
    }

    @Test func historyFiltersAndRefusals() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            try await api.createProduct("B")
            try await api.move("receive", "A", 5)
            try await api.move("sell", "A", 2)
            try await api.move("receive", "B", 1)
            func count(_ query: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> Int {
                let page = try await api.expectStatus(.ok, .get, "/v1/history?\(query)", token: api.reporter, sourceLocation: sourceLocation).object()
                return (page["movements"] as? [JSONObject])?.count ?? -1
            }
            #expect(try await count("") == 5)
            #expect(try await count("sku=A") == 3)
            #expect(try await count("warehouse=MAD") == 3)
            #expect(try await count("warehouse=SEV") == 0)
            #expect(try await count("type=sell") == 1)
            #expect(try await count("type=receive,sell") == 3)
            #expect(try await count("type=product.create") == 2)
            #expect(try await count("since=2000-01-01") == 5)
            #expect(try await count("until=2000-01-01T00:00:00Z") == 0)
            #expect(try await count("since=\(RouterTests.day(offset: 2 * 86_400))") == 0)
            #expect(try await count("since=2000-01-01&until=\(RouterTests.day(offset: 2 * 86_400))&sku=A&type=receive") == 1)

            for query in [
                "type=steal", "type=sell,steal", "since=yesterday", "since=2026-13-45", "until=31/01/2026", "since=99999-01-01",
                "cursor=garbage", "cursor=1.2", "cursor=x.1.MAD", "limit=0", "limit=1001", "limit=-1", "limit=ten",
                "limit=1.5", "format=xml", "format=",
            ] {
                try await api.expectRefused(.get, "/v1/history?\(query)", token: api.reporter, status: .unprocessableContent, code: "invalid_input")
            }
        }
    }

    /// A cursor is opaque, but one whose numbers no ledger can hold is refused, not a crash.
    @Test func historyCursorOutOfRangeIs422() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            for cursor in ["18446744073709551615.1.MAD", "1.18446744073709551615.MAD", "9223372036854775808.9223372036854775808.MAD"] {
                try await api.expectRefused(
                    .get, "/v1/history?cursor=\(cursor)", token: api.reporter, status: .unprocessableContent, code: "invalid_input")
            }
            // The largest cursor a ledger can hold is after everything.
            let last = try await api.expectStatus(.ok, .get, "/v1/history?cursor=9223372036854775807.1.MAD", token: api.reporter).object()
            #expect((last["movements"] as? [JSONObject])?.isEmpty == true)
        }
    }

    @Test func historyAsCSV() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            try await api.move("receive", "A", 5, extra: #", "reference": "PO 1, \"rush\"""#)
            try await api.move("sell", "A", 2)
            let response = try await api.expectStatus(.ok, .get, "/v1/history?format=csv", token: api.reporter)
            #expect(response.headers[.contentType] == "text/csv; charset=utf-8")
            let lines = response.text.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.first.map(String.init) == "id,type,sku,warehouse,quantity,delta,origin,sequence,timestamp,user,reason,reference,transfer_id,counterpart,document")
            #expect(lines.count == 5, "header, 3 entries and the final newline: \(response.text)")
            #expect(lines.last == "")
            #expect(lines[1].hasPrefix("MAD:1,product.create,A,,0,0,MAD,1,"))
            #expect(lines[2].contains(",receive,A,MAD,5,5,MAD,2,"))
            #expect(lines[2].hasSuffix(#",till-1,,"PO 1, ""rush""",,,"#))
            #expect(lines[3].contains(",sell,A,MAD,2,-2,MAD,3,"))
            // Filters and the cursor apply; limit does not.
            let sells = try await api.expectStatus(.ok, .get, "/v1/history?format=csv&type=sell&limit=1", token: api.reporter).text
            #expect(sells.split(separator: "\n").count == 2)
            let page = try await api.expectStatus(.ok, .get, "/v1/history?limit=1", token: api.reporter).object()
            let cursor = try #require(page.string("next_cursor"))
            let after = try await api.expectStatus(.ok, .get, "/v1/history?format=csv&cursor=\(cursor)", token: api.reporter).text
            #expect(after.split(separator: "\n").count == 3)
        }
    }

    @Test func movementReportAsJSONAndCSV() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            try await api.move("receive", "A", 10)
            try await api.move("sell", "A", 3)
            try await api.move("adjust", "A", -1, extra: #", "reason": "broken""#)
            let tomorrow = RouterTests.day(offset: 86_400)
            let rows = try await api.expectStatus(.ok, .get, "/v1/reports/movements?from=2000-01-01&to=\(tomorrow)", token: api.reporter).array()
            #expect(rows.count == 1)
            #expect(rows.first?.keySet == ["sku", "warehouse", "opening", "in", "out", "closing"])
            #expect(rows.first.map { [$0.int("opening"), $0.int("in"), $0.int("out"), $0.int("closing")] } == [0, 10, 4, 6])
            #expect(rows.first?.string("warehouse") == "MAD")
            let later = try await api.expectStatus(
                .ok, .get, "/v1/reports/movements?from=\(tomorrow)&to=\(RouterTests.day(offset: 2 * 86_400))", token: api.reporter
            ).array()
            #expect(later.first.map { [$0.int("opening"), $0.int("in"), $0.int("out"), $0.int("closing")] } == [6, 0, 0, 6])
            #expect(try await api.expectStatus(.ok, .get, "/v1/reports/movements?from=1999-01-01&to=2000-01-01", token: api.reporter).array().isEmpty)

            let csv = try await api.expectStatus(
                .ok, .get, "/v1/reports/movements?from=2000-01-01&to=\(tomorrow)&format=csv", token: api.reporter)
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(csv.text == "sku,warehouse,opening,in,out,closing\nA,MAD,0,10,4,6\n")

            for query in [
                "", "from=2000-01-01", "to=2000-01-01", "from=2000-01-02&to=2000-01-01", "from=2000-01-01&to=2000-01-01",
                "from=someday&to=2000-01-01", "from=2000-01-01&to=later", "from=2000-01-01&to=2001-01-01&format=pdf",
            ] {
                try await api.expectRefused(.get, "/v1/reports/movements?\(query)", token: api.reporter, status: .unprocessableContent, code: "invalid_input")
            }
        }
    }

    @Test func alertsAfterSellingBelowTheReorderPoint() async throws {
        try await APISession.with { api in
            try await api.createProduct("A", reorderPoint: 5)
            try await api.move("receive", "A", 10)
            #expect(try await api.expectStatus(.ok, .get, "/v1/alerts", token: api.reporter).array().isEmpty)
            try await api.move("sell", "A", 6)
            let alerts = try await api.expectStatus(.ok, .get, "/v1/alerts", token: api.reporter).array()
            #expect(alerts.count == 1)
            #expect(alerts.first?.keySet == ["sku", "warehouse", "quantity", "reorder_point", "raised_at"])
            #expect(alerts.first?.string("sku") == "A")
            #expect(alerts.first?.string("warehouse") == "MAD")
            #expect(alerts.first?.int("quantity") == 4)
            #expect(alerts.first?.int("reorder_point") == 5)
            #expect(RouterTests.isTimestamp(alerts.first?.string("raised_at")))
            #expect(try await api.expectStatus(.ok, .get, "/v1/status", token: api.reporter).object().int("alerts") == 1)

            try await api.move("receive", "A", 10)
            #expect(try await api.expectStatus(.ok, .get, "/v1/alerts", token: api.reporter).array().isEmpty)
            // This warehouse's own reorder point overrides the product's.
            try await api.expectStatus(.ok, .put, "/v1/products/A/reorder-points/MAD", token: api.admin, json: #"{"reorder_point": 20}"#)
            let overridden = try await api.expectStatus(.ok, .get, "/v1/alerts", token: api.reporter).array()
            #expect(overridden.map { [$0.int("quantity"), $0.int("reorder_point")] } == [[14, 20]])
        }
    }

    @Test func conflictsAndSnapshot() async throws {
        try await APISession.with { api in
            #expect(try await api.expectStatus(.ok, .get, "/v1/conflicts", token: api.reporter).array().isEmpty)
            try await api.createProduct("A")
            try await api.createProduct("B")
            try await api.move("receive", "A", 7)
            let response = try await api.expectStatus(.ok, .get, "/v1/snapshot", token: api.reporter)
            #expect(response.headers[.contentType] == "application/json; charset=utf-8")
            let snapshot = try response.object()
            #expect(snapshot.keySet == ["v", "node", "version_vector", "products", "stock", "in_transit"])
            #expect(snapshot.int("v") == 1)
            #expect(snapshot.string("node") == "MAD")
            #expect(snapshot.object("version_vector")?.int("MAD") == 3)
            let products = try #require(snapshot["products"] as? [JSONObject])
            #expect(products.map { $0.string("sku") } == ["A", "B"])
            #expect(products.allSatisfy { $0.keySet == RouterTests.productKeys })
            let stock = try #require(snapshot["stock"] as? [JSONObject])
            #expect(stock.map { "\($0.string("sku") ?? "?")@\($0.string("warehouse") ?? "?")=\($0.int("quantity") ?? -1)" } == ["A@MAD=7"])
            #expect((snapshot["in_transit"] as? [JSONObject])?.isEmpty == true)
            // The streamed document is the shape clients decode.
            let decoded = try JSONDecoder().decode(API.Snapshot.self, from: Data(response.text.utf8))
            #expect(decoded.v == API.Snapshot.version && decoded.node == "MAD" && decoded.versionVector == ["MAD": 3])
            #expect(decoded.products.map(\.sku) == ["A", "B"])
            #expect(decoded.stock.map { "\($0.sku)@\($0.warehouse)=\($0.quantity)" } == ["A@MAD=7"])
            #expect(decoded.inTransit.isEmpty)
        }
    }

    @Test func status() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            try await api.move("receive", "A", 1)
            let status = try await api.expectStatus(.ok, .get, "/v1/status", token: api.reporter).object()
            #expect(status.keySet == [
                "warehouse", "name", "url", "version", "operations", "version_vector", "write_queue", "alerts", "event_subscribers",
                "peers", "catching_up", "history_index_backlog",
            ])
            #expect(status.bool("catching_up") == false)
            // The two operations wait in the history backlog until the writer is idle, then are indexed.
            var backlog = status.int("history_index_backlog")
            #expect((0...2).contains(backlog ?? -1), "at most the two operations written")
            for _ in 0..<200 where backlog != 0 {
                try await Task.sleep(for: .milliseconds(10))
                backlog = try await api.expectStatus(.ok, .get, "/v1/status", token: api.reporter).object().int("history_index_backlog")
            }
            #expect(backlog == 0, "the idle writer indexed them")
            #expect((status["peers"] as? [Any])?.isEmpty == true, "no peer sync runs here")
            #expect(status.string("warehouse") == "MAD")
            #expect(status.string("name") == "Warehouse MAD")
            #expect(status.string("url") == "https://127.0.0.1:0")
            #expect(status.string("version") == InvNode.version)
            #expect(status.int("operations") == 2)
            #expect(status.object("version_vector")?.int("MAD") == 2)
            #expect(status.object("version_vector")?.count == 1)
            let queue = try #require(status.object("write_queue"))
            #expect(queue.keySet == ["batches", "commands", "last_batch_size", "largest_batch"])
            #expect((queue.int("commands") ?? 0) >= 4, "2 tokens, a product and a movement went through this store's queue")
            #expect(status.int("alerts") == 0)
            #expect(status.int("event_subscribers") == 0)
        }
    }
}

// MARK: - Tokens

@Suite("API: token management", .timeLimit(.minutes(3)))
struct TokensRouterTests {
    @Test func createListUseAndRevoke() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            let created = try await api.expectStatus(
                .created, .post, "/v1/tokens", token: api.admin, json: #"{"role": "staff", "name": "till-2"}"#
            ).object()
            #expect(created.keySet == RouterTests.tokenKeys.union(["token"]))
            let id = try #require(created.string("id"))
            let secret = try #require(created.string("token"))
            #expect(secret.hasPrefix("inv_\(id)_"))
            #expect(created.string("name") == "till-2")
            #expect(created.string("role") == "staff")
            #expect(created.bool("revoked") == false)
            #expect(RouterTests.isTimestamp(created.string("created_at")))

            // The secret is shown only once.
            let listed = try await api.expectStatus(.ok, .get, "/v1/tokens", token: api.admin)
            #expect(!listed.text.contains(secret.split(separator: "_")[2]))
            let tokens = try listed.array()
            #expect(tokens.count == 4)
            #expect(tokens.allSatisfy { $0.keySet == RouterTests.tokenKeys })
            #expect(Set(tokens.compactMap { $0.string("name") }) == ["admin", "till-1", "accounts", "till-2"])

            // The new token works, with its role and name.
            let moved = try await api.expectStatus(
                .created, .post, "/v1/movements", token: secret, json: #"{"type": "receive", "sku": "A", "quantity": 1}"#
            ).object()
            #expect(moved.string("user") == "till-2")
            try await api.expectRefused(.get, "/v1/tokens", token: secret, status: .forbidden, code: "forbidden")

            let revoked = try await api.expectStatus(.ok, .delete, "/v1/tokens/\(id)", token: api.admin).object()
            #expect(revoked.keySet == RouterTests.tokenKeys)
            #expect(revoked.bool("revoked") == true)
            try await api.expectRefused(
                .post, "/v1/movements", token: secret, json: #"{"type": "receive", "sku": "A", "quantity": 1}"#, status: .unauthorized,
                code: "unauthorized")
            try await api.expectRefused(.get, "/v1/status", token: secret, status: .unauthorized, code: "unauthorized")
            let after = try await api.expectStatus(.ok, .get, "/v1/tokens", token: api.admin).array()
            #expect(after.first { $0.string("id") == id }?.bool("revoked") == true)
            // Revoking twice is harmless.
            try await api.expectStatus(.ok, .delete, "/v1/tokens/\(id)", token: api.admin)

            // Without a name, the token is named after its role and creator.
            let unnamed = try await api.expectStatus(.created, .post, "/v1/tokens", token: api.admin, json: #"{"role": "reporter"}"#).object()
            #expect(unnamed.string("name") == "reporter-by-admin")
            #expect(unnamed.string("role") == "reporter")
        }
    }

    @Test func refusals() async throws {
        try await APISession.with { api in
            try await api.expectRefused(.delete, "/v1/tokens/\(api.fixture.adminID)", token: api.admin, status: .conflict, code: "own_token")
            try await api.expectRefused(.delete, "/v1/tokens/nope", token: api.admin, status: .notFound, code: "unknown_token")
            for json in ["", "{", "{}", #"{"role": "root"}"#, #"{"role": "ADMIN"}"#, #"{"role": 1}"#, #"{"role": "staff", "name": 5}"#] {
                try await api.expectRefused(.post, "/v1/tokens", token: api.admin, json: json, status: .badRequest, code: "bad_request")
            }
            for json in [#"{"role": "staff", "name": ""}"#, #"{"role": "staff", "name": "\#(String(repeating: "n", count: 65))"}"#] {
                try await api.expectRefused(.post, "/v1/tokens", token: api.admin, json: json, status: .unprocessableContent, code: "invalid_input")
            }
            try await api.expectRefused(
                .post, "/v1/tokens", token: api.admin, json: #"{"role": "staff", "name": "\#(String(repeating: "n", count: 1 << 20))"}"#,
                status: .contentTooLarge, code: "body_too_large")
            // Another admin may revoke the first one; then the first one is refused.
            let other = try await api.expectStatus(.created, .post, "/v1/tokens", token: api.admin, json: #"{"role": "admin", "name": "ops"}"#).object()
            let otherSecret = try #require(other.string("token"))
            try await api.expectStatus(.ok, .delete, "/v1/tokens/\(api.fixture.adminID)", token: otherSecret)
            try await api.expectRefused(.get, "/v1/tokens", token: api.admin, status: .unauthorized, code: "unauthorized")
        }
    }
}

// MARK: - Events

/// `GET /v1/events` never ends, so the router test client (which collects whole bodies) cannot read it: these run the
/// node's real HTTPS application on 127.0.0.1 and read the stream with AsyncHTTPClient.
@Suite("API: server-sent events over live HTTPS", .timeLimit(.minutes(3)))
struct EventsLiveTests {
    static func request(
        _ base: String, _ path: String, token: String?, method: HTTPMethod = .GET, json: String? = nil
    ) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        return request
    }

    /// Sends a request and collects its answer.
    static func call(
        _ client: HTTPClient, _ base: String, _ path: String, token: String?, method: HTTPMethod = .GET, json: String? = nil
    ) async throws -> (status: Int, body: String) {
        let response = try await client.execute(request(base, path, token: token, method: method, json: json), deadline: .now() + .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: body))
    }

    /// The `data:` JSON of the first frame of `event` in an SSE text.
    static func data(of event: String, in stream: String) -> JSONObject? {
        for frame in stream.components(separatedBy: "\n\n") where frame.hasPrefix("event: \(event)\n") {
            guard let line = frame.split(separator: "\n").first(where: { $0.hasPrefix("data: ") }) else { continue }
            return try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? JSONObject
        }
        return nil
    }

    @Test func committedChangesArriveOnTheStream() async throws {
        try await NodeFixture.with { fixture in
            try await LiveNodeServer.run(fixture) { base, client in
                let response = try await client.execute(
                    Self.request(base, "/v1/events", token: fixture.reporter), deadline: .now() + .seconds(30))
                #expect(response.status == .ok)
                #expect(response.headers.first(name: "content-type") == "text/event-stream")
                #expect(response.headers.first(name: "cache-control") == "no-cache")
                let stream = try await LiveNodeServer.within(20, "the product, movement and alert frames") {
                    var received = ""
                    var chunks = response.body.makeAsyncIterator()
                    /// Reads one more chunk of the stream.
                    func readChunk() async throws {
                        guard let chunk = try await chunks.next() else {
                            throw LiveNodeServer.TimedOut(what: "the stream ended early: \(received)")
                        }
                        received += String(buffer: chunk)
                    }
                    while !received.contains(": connected to MAD\n\n") { try await readChunk() }
                    let status = try await Self.call(client, base, "/v1/status", token: fixture.reporter)
                    #expect(status.body.contains(#""event_subscribers":1"#), "\(status.body)")

                    let product = try await Self.call(
                        client, base, "/v1/products", token: fixture.admin, method: .POST,
                        json: #"{"sku": "A", "name": "A", "reorder_point": 5}"#)
                    #expect(product.status == 201)
                    let movement = try await Self.call(
                        client, base, "/v1/movements", token: fixture.staff, method: .POST,
                        json: #"{"type": "receive", "sku": "A", "quantity": 3}"#)
                    #expect(movement.status == 201, "\(movement.body)")
                    // Created with a reorder point and nothing on hand: raised at once, cleared by nothing (3 <= 5).
                    for event in ["product", "movement", "alert"] {
                        while Self.data(of: event, in: received) == nil { try await readChunk() }
                    }
                    return received
                }
                let product = try #require(Self.data(of: "product", in: stream), "\(stream)")
                #expect(product.string("type") == "product.create")
                #expect(product.string("sku") == "A")
                let movement = try #require(Self.data(of: "movement", in: stream), "\(stream)")
                // A movement event also says what its warehouse holds after it.
                #expect(movement.keySet == RouterTests.movementKeys.union(["on_hand"]))
                #expect(movement.int("on_hand") == 3)
                #expect(movement.string("type") == "receive")
                #expect(movement.string("sku") == "A")
                #expect(movement.int("quantity") == 3)
                #expect(movement.string("warehouse") == "MAD")
                #expect(movement.string("user") == "till-1")
                let alert = try #require(Self.data(of: "alert", in: stream), "\(stream)")
                #expect(alert.string("state") == "raised")
                #expect(alert.int("quantity") == 0, "raised when the reorder point is set, before any stock")
                #expect(alert.int("reorder_point") == 5)
                #expect(stream.firstRange(of: "event: product")!.lowerBound < stream.firstRange(of: "event: movement")!.lowerBound)
            }
        }
    }

    @Test func theStreamNeedsAToken() async throws {
        try await NodeFixture.with { fixture in
            try await LiveNodeServer.run(fixture) { base, client in
                let anonymous = try await Self.call(client, base, "/v1/events", token: nil)
                #expect(anonymous.status == 401)
                #expect(anonymous.body.contains(#""code":"unauthorized""#))
                let status = try await Self.call(client, base, "/v1/status", token: fixture.reporter)
                #expect(status.status == 200)
                #expect(status.body.contains(#""event_subscribers":0"#))
            }
        }
    }
}

// MARK: - Peers

/// `/v1/peers` and `/v1/sync` on a node that runs no peer sync (`buildRouter(node:)` without a syncer); syncing
/// itself is tested with live nodes elsewhere.
@Suite("API: cluster membership without peer sync", .timeLimit(.minutes(3)))
struct PeersRouterTests {
    @Test func listAndRetireMembers() async throws {
        try await APISession.with { api in
            #expect(try await api.expectStatus(.ok, .get, "/v1/peers", token: api.reporter).array().isEmpty)
            _ = try await api.fixture.node.store.submit(.setMember(warehouse: "SEV", peerURL: "https://127.0.0.1:9", retired: false))
            let members = try await api.expectStatus(.ok, .get, "/v1/peers", token: api.reporter).array()
            #expect(members.count == 1)
            #expect(members.first?.keySet == ["warehouse", "peer_url", "retired", "self"])
            #expect(members.first?.string("peer_url") == "https://127.0.0.1:9")
            #expect(members.first?.bool("self") == false)
            #expect(members.first?.bool("retired") == false)

            let retired = try await api.expectStatus(.ok, .delete, "/v1/peers/SEV", token: api.admin).object()
            #expect(retired.string("warehouse") == "SEV")
            #expect(retired.bool("retired") == true)
            #expect(try await api.expectStatus(.ok, .get, "/v1/peers", token: api.reporter).array().first?.bool("retired") == true)
        }
    }

    @Test("a node retires its own warehouse with its node key; decisions are listed with actor, signer and time")
    func retireItselfAndListDecisions() async throws {
        try await APISession.with { api in
            #expect(try await api.expectStatus(.ok, .get, "/v1/membership/decisions", token: api.reporter).array().isEmpty)
            let store = api.fixture.node.store
            for warehouse in ["MAD", "SEV"] {
                _ = try await store.submit(.setMember(warehouse: warehouse, peerURL: "https://127.0.0.1:9", retired: false))
            }
            _ = try await api.expectStatus(.created, .post, "/v1/products", token: api.admin, json: #"{"sku": "A", "name": "A"}"#)
            let movement = #"{"type": "receive", "sku": "A", "quantity": 1}"#
            let retired = try await api.expectStatus(.ok, .delete, "/v1/peers/MAD", token: api.admin).object()
            #expect(retired.string("warehouse") == "MAD" && retired.bool("retired") == true && retired.bool("self") == true)
            try await api.expectRefused(.post, "/v1/movements", token: api.admin, json: movement, status: .forbidden, code: "retired")
            try await api.expectRefused(.delete, "/v1/peers/MAD", token: api.admin, status: .conflict, code: "retired")
            let held = try #require(try store.reader.membershipDecisions().first { $0.warehouse == "MAD" })
            #expect(held.signer == .warehouse && held.issuer == "MAD")

            // Only the cluster CA key re-admits it (this node holds it); both decisions are listed, oldest first.
            _ = try await api.expectStatus(.ok, .post, "/v1/peers/MAD/readmit", token: api.admin)
            _ = try await api.expectStatus(.created, .post, "/v1/movements", token: api.admin, json: movement)
            _ = try await api.expectStatus(.ok, .delete, "/v1/peers/SEV", token: api.admin)
            let listed = try await api.expectStatus(.ok, .get, "/v1/membership/decisions", token: api.reporter).array()
            #expect(listed.map { $0.keySet } == Array(repeating: ["warehouse", "retired", "user", "issuer", "signer", "timestamp"], count: 3))
            #expect(listed.map { [$0.string("warehouse"), $0.string("signer"), $0.string("issuer")] } == [
                ["MAD", "warehouse", "MAD"], ["MAD", "cluster_ca", "MAD"], ["SEV", "cluster_ca", "MAD"],
            ])
            #expect(listed.map { $0.bool("retired") } == [true, false, true])
            #expect(listed.allSatisfy { $0.string("user") == "admin" })
            let onlySEV = try await api.expectStatus(.ok, .get, "/v1/membership/decisions?warehouse=SEV", token: api.reporter).array()
            #expect(onlySEV.count == 1)
            #expect(try await api.expectStatus(.ok, .get, "/v1/membership/decisions?until=2000-01-01", token: api.reporter).array().isEmpty)
            try await api.expectRefused(.get, "/v1/membership/decisions?since=yesterday", token: api.reporter, status: .unprocessableContent, code: "invalid_input")
            for warehouse in ["", "not%20a%20warehouse", String(repeating: "W", count: 33)] {
                try await api.expectRefused(
                    .get, "/v1/membership/decisions?warehouse=\(warehouse)", token: api.reporter, status: .unprocessableContent, code: "invalid_input")
            }
        }
    }

    @Test func refusals() async throws {
        try await APISession.with { api in
            for json in ["", "{}", #"{"url": 5}"#] {
                try await api.expectRefused(.post, "/v1/peers", token: api.admin, json: json, status: .badRequest, code: "bad_request")
            }
            // Exactly https://HOST:PORT, nothing after the port.
            for url in [
                "ftp://127.0.0.1:9", "http://127.0.0.1:9", "not a url", "https://", "https://127.0.0.1", "https://127.0.0.1:0",
                "https://127.0.0.1:9/sync", "https://127.0.0.1:9?x=1", "https://user@127.0.0.1:9",
            ] {
                try await api.expectRefused(
                    .post, "/v1/peers", token: api.admin, json: #"{"url": "\#(url)"}"#, status: .badRequest, code: "invalid_url")
            }
            try await api.expectRefused(
                .post, "/v1/peers", token: api.admin, json: #"{"url": "https://127.0.0.1:9"}"#, status: .serviceUnavailable,
                code: "sync_not_running")
            try await api.expectRefused(
                .post, "/v1/peers", token: api.staff, json: #"{"url": "https://127.0.0.1:9"}"#, status: .forbidden, code: "forbidden")
            try await api.expectRefused(.delete, "/v1/peers/MAD", token: api.admin, status: .conflict, code: "not_in_cluster")
            try await api.expectRefused(.delete, "/v1/peers/SEV", token: api.admin, status: .notFound, code: "not_found")
            try await api.expectRefused(.delete, "/v1/peers/SEV", token: api.staff, status: .forbidden, code: "forbidden")
            try await api.expectRefused(.post, "/v1/sync", token: api.staff, status: .serviceUnavailable, code: "sync_not_running")
            try await api.expectRefused(.post, "/v1/sync", token: api.reporter, status: .forbidden, code: "forbidden")
            #expect(try await api.expectStatus(.ok, .get, "/v1/peers", token: api.reporter).array().isEmpty)
        }
    }
}
