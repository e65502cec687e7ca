import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Store
import SyncServer
import Testing

/// `POST /v1/imports/products`: a catalogue created or updated as one command, all or none, a refused row named by
/// its line.
@Suite("API: product import", .timeLimit(.minutes(3)))
struct ImportRouterTests {
    static func body(_ rows: [String]) -> String { #"{"products": [\#(rows.joined(separator: ", "))]}"# }

    static func row(_ sku: String, _ name: String, price: String? = nil, reorderPoint: Int? = nil, description: String = "") -> String {
        let price = price.map { #""\#($0)""# } ?? "null"
        let point = reorderPoint.map(String.init) ?? "null"
        return #"{"sku": "\#(sku)", "name": "\#(name)", "description": "\#(description)", "price": \#(price), "reorder_point": \#(point)}"#
    }

    @Test func createsUpdatesAndLeavesUnchanged() async throws {
        try await APISession.with { api in
            try await api.createProduct("OLD")
            let first = try await api.expectStatus(
                .ok, .post, "/v1/imports/products", token: api.admin,
                json: Self.body([Self.row("A", "Chair", price: "12.50", reorderPoint: 3), Self.row("B", "Desk"), Self.row("OLD", "Product OLD")])
            ).object()
            #expect(first.keySet == ["created", "updated", "unchanged"])
            #expect(first.int("created") == 2)
            #expect(first.int("unchanged") == 1)
            #expect(first.int("updated") == 0)
            let chair = try await api.expectStatus(.ok, .get, "/v1/products/A", token: api.reporter).object()
            #expect(chair.string("price") == "12.50")
            #expect(chair.int("reorder_point") == 3)

            // Only the fields that differ are written: the same import again writes nothing.
            let operations = try api.fixture.node.store.reader.operationCount()
            let second = try await api.expectStatus(
                .ok, .post, "/v1/imports/products", token: api.admin,
                json: Self.body([Self.row("A", "Chair", price: "12.5", reorderPoint: 3), Self.row("B", "Big desk")])
            ).object()
            #expect(second.int("updated") == 2, "12.5 is another price than 12.50 as written")
            #expect(second.int("unchanged") == 0)
            #expect(try api.fixture.node.store.reader.operationCount() == operations + 2)
            let third = try await api.expectStatus(
                .ok, .post, "/v1/imports/products", token: api.admin, json: Self.body([Self.row("A", "Chair", price: "12.5", reorderPoint: 3)])
            ).object()
            #expect(third.int("unchanged") == 1)
            #expect(try api.fixture.node.store.reader.operationCount() == operations + 2)
        }
    }

    @Test func aBadRowIsRefusedWithItsLineAndNothingIsWritten() async throws {
        try await APISession.with { api in
            try await api.createProduct("chair")
            func refused(_ rows: [String], status: HTTPResponse.Status, code: String, line: Int64?) async throws {
                let response = try await api.expectRefused(
                    .post, "/v1/imports/products", token: api.admin, json: Self.body(rows), status: status, code: code)
                #expect(response.errorLine == line, "\(response.text)")
            }
            let good = Self.row("A", "Good")
            try await refused([good, Self.row("B", "Bad", price: "1.23456")], status: .unprocessableContent, code: "invalid_input", line: 2)
            try await refused([good, good], status: .unprocessableContent, code: "invalid_input", line: 2)
            try await refused([good, Self.row("C", "x"), Self.row("bad sku", "x")], status: .unprocessableContent, code: "invalid_input", line: 3)
            try await refused([good, Self.row("CHAIR", "x")], status: .conflict, code: "product_exists", line: 2)
            try await refused([good, Self.row("B", "")], status: .unprocessableContent, code: "invalid_input", line: 2)
            try await refused([good, Self.row("B", "x", reorderPoint: -1)], status: .unprocessableContent, code: "invalid_input", line: 2)
            try await refused([good, #"{"sku": "B"}"#], status: .badRequest, code: "bad_request", line: 2)
            try await refused([], status: .unprocessableContent, code: "invalid_input", line: nil)
            try await api.expectRefused(
                .post, "/v1/imports/products", token: api.staff, json: Self.body([good]), status: .forbidden, code: "forbidden")
            try await api.expectRefused(.get, "/v1/products/A", token: api.reporter, status: .notFound, code: "unknown_sku")
        }
    }
}
