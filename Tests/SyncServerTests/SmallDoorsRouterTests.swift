import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Store
@testable import SyncServer
import Testing

/// The API's small doors, through `buildRouter(node:)`: one meaning per JSON body, 405 for a known path with a
/// wrong method, unique token names, overrides of members only, no bidi controls, throttled failed token checks and
/// formula-safe CSV.
@Suite("The API's small doors")
struct SmallDoorsRouterTests {
    /// Every route that takes a JSON body, with a body that writes one key twice (the first value would be the
    /// harmful one for a parser that keeps the first, the second for one that keeps the last).
    static let duplicateBodies: [(HTTPRequest.Method, String, String)] = [
        (.post, "/v1/products", #"{"sku": "B", "name": "B", "reorder_point": 1, "reorder_point": 2}"#),
        (.patch, "/v1/products/A", #"{"name": "x", "name": "y"}"#),
        (.put, "/v1/products/A/reorder-points/MAD", #"{"reorder_point": 1, "reorder_point": 2}"#),
        (.post, "/v1/movements", #"{"type": "receive", "sku": "A", "quantity": 1000000, "quantity": 1}"#),
        // The same key, once escaped: keys are compared as decoded text.
        (.post, "/v1/movements", #"{"type": "receive", "sku": "A", "quantity": 1000000, "qu\u0061ntity": 1}"#),
        (.post, "/v1/transfers/00000000-0000-4000-8000-000000000000/accept", #"{"quantity": 1, "quantity": 2}"#),
        (.post, "/v1/tokens", #"{"role": "reporter", "role": "admin"}"#),
        (.post, "/v1/tokens/ID/rotate", #"{"grace_seconds": 0, "grace_seconds": 60}"#),
        (.post, "/v1/peers", #"{"url": "https://127.0.0.1:1", "url": "https://127.0.0.1:2"}"#),
        (.put, "/v1/sync/paused", #"{"paused": true, "paused": false}"#),
    ]

    @Test("a key written twice in one JSON object is refused with 400, on every route that takes a body")
    func duplicateKeysAreRefused() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            for (method, uri, json) in Self.duplicateBodies {
                let uri = uri.replacingOccurrences(of: "ID", with: api.fixture.staffID)
                let refused = try await api.expectRefused(method, uri, token: api.admin, json: json, status: .badRequest, code: "bad_request")
                #expect(refused.text.contains("appears twice in one JSON object"), "\(uri): \(refused.text)")
            }
            // Nested objects are checked too; the same key in two different objects is fine.
            try await api.expectRefused(
                .post, "/v1/products", token: api.admin, json: #"{"sku": "B", "name": "B", "x": {"a": 1, "a": 2}}"#,
                status: .badRequest, code: "bad_request")
            try await api.expectStatus(
                .created, .post, "/v1/products", token: api.admin,
                json: #"{"sku": "B", "name": "B", "x": [{"a": 1}, {"a": 2}], "y": {"name": "inner"}}"#)
        }
    }

    @Test("a known path asked with a method it does not take answers 405 with Allow; an unknown path stays 404")
    func wrongMethodsAnswer405() async throws {
        try await APISession.with { api in
            for (method, uri, allow) in [
                (HTTPRequest.Method.delete, "/v1/stock", "GET"),
                (.put, "/v1/products", "GET, POST"),
                (.post, "/v1/products/A", "DELETE, GET, PATCH"),
                (.get, "/v1/movements", "POST"),
                (.get, "/v1/sync/paused", "PUT"),
                (.post, "/metrics", "GET"),
            ] {
                let response = try await api.expectRefused(method, uri, token: api.admin, status: .methodNotAllowed, code: "method_not_allowed")
                #expect(response.headers[.allow] == allow, "\(method) \(uri)")
            }
            try await api.expectRefused(.get, "/v1/nothing-here", token: api.admin, status: .notFound, code: "not_found")
        }
    }

    @Test("token names are unique per node (409); unnamed tokens get the next free default name")
    func tokenNamesAreUnique() async throws {
        try await APISession.with { api in
            try await api.expectStatus(.created, .post, "/v1/tokens", token: api.admin, json: #"{"role": "staff", "name": "till-2"}"#)
            try await api.expectRefused(
                .post, "/v1/tokens", token: api.admin, json: #"{"role": "reporter", "name": "till-2"}"#, status: .conflict,
                code: "token_name_taken")
            // till-1 is the fixture's staff token.
            try await api.expectRefused(
                .post, "/v1/tokens", token: api.admin, json: #"{"role": "admin", "name": "till-1"}"#, status: .conflict,
                code: "token_name_taken")
            let first = try await api.expectStatus(.created, .post, "/v1/tokens", token: api.admin, json: #"{"role": "staff"}"#).object()
            let second = try await api.expectStatus(.created, .post, "/v1/tokens", token: api.admin, json: #"{"role": "staff"}"#).object()
            #expect(first.string("name") == "staff-by-admin")
            #expect(second.string("name") == "staff-by-admin-2")
        }
    }

    @Test("a reorder override for a warehouse that is not a member is refused; bidi controls in names are refused")
    func localRules() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            try await api.expectRefused(
                .put, "/v1/products/A/reorder-points/ZZZ", token: api.admin, json: #"{"reorder_point": 3}"#,
                status: .unprocessableContent, code: "unknown_warehouse")
            try await api.expectStatus(.ok, .put, "/v1/products/A/reorder-points/MAD", token: api.admin, json: #"{"reorder_point": 3}"#)
            for control in ["\\u202e", "\\u202A", "\\u2066", "\\u2069", "\\u200e", "\\u200F", "\\u061c"] {
                try await api.expectRefused(
                    .post, "/v1/products", token: api.admin, json: #"{"sku": "B", "name": "exe\#(control)gpj"}"#,
                    status: .unprocessableContent, code: "invalid_input")
                try await api.expectRefused(
                    .patch, "/v1/products/A", token: api.admin, json: #"{"description": "a\#(control)b"}"#,
                    status: .unprocessableContent, code: "invalid_input")
                try await api.expectRefused(
                    .post, "/v1/movements", token: api.staff, json: #"{"type": "receive", "sku": "A", "quantity": 1, "reason": "\#(control)"}"#,
                    status: .unprocessableContent, code: "invalid_input")
                try await api.expectRefused(
                    .post, "/v1/tokens", token: api.admin, json: #"{"role": "staff", "name": "t\#(control)"}"#,
                    status: .unprocessableContent, code: "invalid_input")
            }
        }
    }

    @Test("after 10 failed token checks, failures answer 429 with Retry-After; valid tokens are never refused")
    func failedTokenChecksAreThrottled() async throws {
        try await APISession.with { api in
            let wrong = "inv_\(api.fixture.staffID)_0000000000000000000000000000000000000000000000000"
            for _ in 0..<10 {
                try await api.expectRefused(.get, "/v1/status", token: wrong, status: .unauthorized, code: "unauthorized")
                try await api.expectStatus(.ok, .get, "/v1/status", token: api.staff)
            }
            for token in [wrong, "inv_nope_nope", "garbage"] {
                let throttled = try await api.expectRefused(.get, "/v1/status", token: token, status: .tooManyRequests, code: "too_many_requests")
                let retry = try #require(throttled.headers[.retryAfter].flatMap { Int($0) })
                #expect((1...60).contains(retry))
            }
            // The holder of the right secret, the admin and a request without any token are answered as usual.
            try await api.expectStatus(.ok, .get, "/v1/status", token: api.staff)
            try await api.expectStatus(.ok, .get, "/v1/tokens", token: api.admin)
            try await api.expectRefused(.get, "/v1/status", token: nil, status: .unauthorized, code: "unauthorized")
        }
    }

    @Test("history and report CSV neutralise text cells that start a formula, and read back to the original text")
    func csvExportsAreFormulaSafe() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            let reasons = ["=HYPERLINK(\"https://evil.example\",\"x\")", "+1", "-2", "@SUM(A1)", "\tx", "'quoted", "plain, text"]
            for reason in reasons {
                let json = String(data: try JSONSerialization.data(withJSONObject: ["reason": reason]), encoding: .utf8)!.dropFirst().dropLast()
                try await api.move("receive", "A", 1, extra: ", \(json)")
            }
            try await api.move("sell", "A", 2)
            let csv = try await api.expectStatus(.ok, .get, "/v1/history?format=csv", token: api.reporter).text
            let rows = CSV.read(csv)
            #expect(rows.first?.count == 15)
            let reasonColumn = try #require(rows.first?.firstIndex(of: "reason"))
            #expect(Set(rows.dropFirst().map { $0[reasonColumn] }) == Set(reasons + [""]))
            for line in csv.split(separator: "\n").dropFirst() {
                let cells = line.split(separator: ",", omittingEmptySubsequences: false)
                // Numbers stay numbers: the sale's delta is -2, not '-2.
                if cells[1] == "sell" { #expect(cells[4] == "2" && cells[5] == "-2", "\(line)") }
            }
            #expect(csv.contains(#""'=HYPERLINK(""https://evil.example"",""x"")""#), "\(csv)")
            #expect(csv.contains(",'+1,") && csv.contains(",'-2,") && csv.contains(",'@SUM(A1),") && csv.contains(",'\tx,"))
            #expect(csv.contains(",''quoted,"))
        }
    }

    @Test("include_deleted takes true or false only")
    func queryEdgesFoundBySchemathesis() async throws {
        try await APISession.with { api in
            try await api.expectRefused(.get, "/v1/products?include_deleted=AAA", token: api.reporter, status: .unprocessableContent, code: "invalid_input")
            try await api.expectStatus(.ok, .get, "/v1/products?include_deleted=false", token: api.reporter)
        }
    }
}
