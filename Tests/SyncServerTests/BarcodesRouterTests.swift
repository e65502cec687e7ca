import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Store
import SyncServer
import Testing

/// Barcodes on products: set, replaced and cleared; a barcode names its product wherever a SKU is taken; refusals
/// of codes that are wrong or taken; a code given to two products on two nodes is a reported conflict.
@Suite("API: barcodes", .timeLimit(.minutes(3)))
struct BarcodesRouterTests {
    static let ean13 = "4006381333931"
    static let ean8 = "73513537"
    static let upcA = "036000291452"

    @Test func aBarcodeNamesItsProductWhereverASKUIsTaken() async throws {
        try await APISession.with { api in
            let created = try await api.expectStatus(
                .created, .post, "/v1/products", token: api.admin,
                json: #"{"sku": "TEA", "name": "Green tea", "barcodes": ["\#(Self.ean13)", "\#(Self.ean8)", "\#(Self.ean13)"]}"#
            ).object()
            #expect(created["barcodes"] as? [String] == [Self.ean13, Self.ean8].sorted())
            let shown = try await api.expectStatus(.ok, .get, "/v1/products/\(Self.ean8)", token: api.reporter).object()
            #expect(shown.string("sku") == "TEA")

            let sold = try await api.move("receive", Self.ean13, 5)
            #expect(sold.string("sku") == "TEA")
            // A SKU and one of its barcodes on two lines of a document are one line, summed.
            let document = try await api.expectStatus(
                .created, .post, "/v1/documents", token: api.staff,
                json: #"{"type": "sell", "lines": [{"sku": "TEA", "quantity": 1}, {"sku": "\#(Self.ean8)", "quantity": 2}]}"#
            ).object()
            let lines = try #require(document["lines"] as? [JSONObject])
            #expect(lines.map { $0.string("sku") } == ["TEA"])
            #expect(lines.map { $0.int("quantity") } == [3])
            #expect(try await api.stock("TEA") == 2)
            // Stock and history take a barcode too.
            let stock = try await api.expectStatus(.ok, .get, "/v1/stock?sku=\(Self.ean8)", token: api.reporter).array()
            #expect(stock.map { $0.string("sku") } == ["TEA"])
            #expect(stock.map { $0.int("quantity") } == [2])
            let history = try await api.expectStatus(.ok, .get, "/v1/history?sku=\(Self.ean13)", token: api.reporter).object()
            let movements = try #require(history["movements"] as? [JSONObject])
            #expect(movements.count == 3 && movements.allSatisfy { $0.string("sku") == "TEA" }, "\(movements)")

            // An exact SKU wins over a barcode.
            try await api.createProduct(Self.upcA)
            try await api.expectStatus(.ok, .patch, "/v1/products/TEA", token: api.admin, json: #"{"barcodes": ["\#(Self.ean13)"]}"#)
            #expect(try await api.expectStatus(.ok, .get, "/v1/products/\(Self.ean13)", token: api.reporter).object().string("sku") == "TEA")
            #expect(try await api.expectStatus(.ok, .get, "/v1/products/\(Self.upcA)", token: api.reporter).object().string("sku") == Self.upcA)
            // The replaced code names nothing now; `[]` clears the set.
            try await api.expectRefused(.get, "/v1/products/\(Self.ean8)", token: api.reporter, status: .notFound, code: "unknown_sku")
            let cleared = try await api.expectStatus(.ok, .patch, "/v1/products/TEA", token: api.admin, json: #"{"barcodes": []}"#).object()
            #expect((cleared["barcodes"] as? [String])?.isEmpty == true)
            try await api.expectRefused(.get, "/v1/products/\(Self.ean13)", token: api.reporter, status: .notFound, code: "unknown_sku")
        }
    }

    @Test func wrongOrTakenCodesAreRefused() async throws {
        try await APISession.with { api in
            try await api.expectStatus(
                .created, .post, "/v1/products", token: api.admin, json: #"{"sku": "TEA", "name": "Tea", "barcodes": ["\#(Self.ean13)"]}"#)
            try await api.createProduct("COFFEE")
            try await api.createProduct(Self.upcA)
            for (body, status, code) in [
                (#"{"sku": "X", "name": "X", "barcodes": ["4006381333932"]}"#, HTTPResponse.Status.unprocessableContent, "invalid_input"),
                (#"{"sku": "X", "name": "X", "barcodes": ["12345"]}"#, .unprocessableContent, "invalid_input"),
                (#"{"sku": "X", "name": "X", "barcodes": ["\#(Self.ean13)"]}"#, .conflict, "barcode_taken"),
                (#"{"sku": "X", "name": "X", "barcodes": ["\#(Self.upcA)"]}"#, .conflict, "barcode_taken"),
            ] {
                try await api.expectRefused(.post, "/v1/products", token: api.admin, json: body, status: status, code: code)
            }
            let taken = try await api.expectRefused(
                .patch, "/v1/products/COFFEE", token: api.admin, json: #"{"barcodes": ["\#(Self.ean13)"]}"#, status: .conflict, code: "barcode_taken")
            #expect(taken.text.contains("barcode \(Self.ean13) already belongs to product TEA"))
            // A document line naming an unknown code is refused with its line.
            let line = try await api.expectRefused(
                .post, "/v1/documents", token: api.staff, json: #"{"type": "receive", "lines": [{"sku": "TEA", "quantity": 1}, {"sku": "\#(Self.ean8)", "quantity": 1}]}"#,
                status: .notFound, code: "unknown_sku")
            #expect(line.errorLine == 2)
        }
    }

    @Test func oneCodeOnTwoProductsOfTwoNodesIsAConflictResolvedAlikeEverywhere() async throws {
        try await APISession.with(warehouse: "MAD") { mad in
            try await mad.expectStatus(
                .created, .post, "/v1/products", token: mad.admin, json: #"{"sku": "TEA-B", "name": "Tea B", "barcodes": ["\#(Self.ean13)"]}"#)
            let madOperations = try mad.fixture.ownOperations()
            try await APISession.with(warehouse: "SEV") { sev in
                try await sev.expectStatus(
                    .created, .post, "/v1/products", token: sev.admin, json: #"{"sku": "TEA-A", "name": "Tea A", "barcodes": ["\#(Self.ean13)"]}"#)
                let sevOperations = try sev.fixture.ownOperations()
                _ = try await sev.fixture.node.store.submit(.merge(madOperations))
                _ = try await mad.fixture.node.store.submit(.merge(sevOperations))
                for node in [mad, sev] {
                    let conflicts = try await node.expectStatus(.ok, .get, "/v1/conflicts", token: node.reporter).array()
                    let clash = try #require(conflicts.first { $0.string("kind") == "barcode" }, "\(conflicts)")
                    #expect(clash.string("field") == Self.ean13)
                    #expect(clash.string("kept") == "TEA-A")
                    #expect(clash.string("overwritten") == "TEA-B")
                    let found = try await node.expectStatus(.ok, .get, "/v1/products/\(Self.ean13)", token: node.reporter).object()
                    #expect(found.string("sku") == "TEA-A")
                }
            }
        }
    }
}
