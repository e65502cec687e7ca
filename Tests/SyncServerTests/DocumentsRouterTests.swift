import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Store
import SyncServer
import Testing

/// `POST /v1/documents` and `GET /v1/documents/{id}`: many lines as one command, all or none, each refusal naming
/// its line and changing nothing.
@Suite("API: documents", .timeLimit(.minutes(3)))
struct DocumentsRouterTests {
    static let documentKeys: Set<String> = ["id", "type", "warehouse", "to", "reason", "reference", "timestamp", "user", "lines"]

    /// `{"type": ..., "lines": [...]}` with `lines` as `(sku, quantity)` pairs.
    static func body(_ type: String, _ lines: [(String, Int64)], extra: String = "") -> String {
        let items = lines.map { #"{"sku": "\#($0.0)", "quantity": \#($0.1)}"# }.joined(separator: ", ")
        return #"{"type": "\#(type)", "lines": [\#(items)]\#(extra)}"#
    }

    /// Posts a document that must be refused with `status`, `code` and `line`, and checks that nothing changed and
    /// that no document was stored under its id.
    static func expectRefusedDocument(
        _ api: APISession, _ json: String, status: HTTPResponse.Status, code: String, line: Int64?,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let response = try await api.expectRefused(
            .post, "/v1/documents", token: api.staff, json: json, status: status, code: code, sourceLocation: sourceLocation)
        #expect(response.errorLine == line, "\(response.text)", sourceLocation: sourceLocation)
        if let line {
            #expect(response.text.contains("line \(line): "), "\(response.text)", sourceLocation: sourceLocation)
        }
    }

    @Test func aReceiptRecordsOneMovementPerLineAndIsStored() async throws {
        try await APISession.with { api in
            for sku in ["A", "B", "C"] { try await api.createProduct(sku) }
            let id = RouterTests.uuid()
            let json = Self.body("receive", [("A", 5), ("B", 2), ("A", 3), ("C", 1)], extra: #", "reference": "DN-7", "id": "\#(id)""#)
            let created = try await api.expectStatus(.created, .post, "/v1/documents", token: api.staff, json: json)
            let document = try created.object()
            #expect(document.keySet == Self.documentKeys)
            #expect(document.string("id") == id)
            #expect(document.string("type") == "receive")
            #expect(document.string("warehouse") == "MAD")
            #expect(document.string("reference") == "DN-7")
            #expect(document.string("user") == "till-1")
            #expect(document.isNull("to"))
            #expect(RouterTests.isTimestamp(document.string("timestamp")))
            // The same SKU twice is one line, summed, in order of first appearance.
            let lines = try #require(document["lines"] as? [JSONObject])
            #expect(lines.map { $0.string("sku") } == ["A", "B", "C"])
            #expect(lines.map { $0.int("quantity") } == [8, 2, 1])
            #expect(lines.allSatisfy { $0.keySet == ["sku", "quantity", "movement"] })
            #expect(try await api.stock("A") == 8)
            #expect(try await api.stock("B") == 2)

            // Each line is an ordinary movement of the ledger, with the document's reference.
            for line in lines {
                let movementID = try #require(line.string("movement"))
                let movement = try await api.expectStatus(.ok, .get, "/v1/movements/\(movementID)", token: api.reporter).object()
                #expect(movement.string("type") == "receive")
                #expect(movement.string("sku") == line.string("sku"))
                #expect(movement.int("quantity") == line.int("quantity"))
                #expect(movement.string("reference") == "DN-7")
            }

            // Shown as answered; the same id again answers the stored document and records nothing.
            let shown = try await api.expectStatus(.ok, .get, "/v1/documents/\(id)", token: api.reporter)
            #expect(shown.canonicalJSON == created.canonicalJSON)
            let before = try api.fixture.snapshot()
            let repeated = try await api.expectStatus(.ok, .post, "/v1/documents", token: api.staff, json: json)
            #expect(repeated.canonicalJSON == created.canonicalJSON)
            #expect(try api.fixture.snapshot() == before)
            // The same id with other lines is a conflict.
            try await Self.expectRefusedDocument(
                api, Self.body("receive", [("A", 1)], extra: #", "id": "\#(id)""#), status: .conflict, code: "idempotency_conflict", line: nil)
            try await api.expectRefused(
                .get, "/v1/documents/\(RouterTests.uuid())", token: api.reporter, status: .notFound, code: "not_found")
        }
    }

    @Test func eachRefusalNamesItsLineAndChangesNothing() async throws {
        try await APISession.with { api in
            for sku in ["A", "B"] { try await api.createProduct(sku) }
            try await api.move("receive", "A", 5)
            _ = try await api.expectStatus(.ok, .delete, "/v1/products/B", token: api.admin)
            try await api.createProduct("C")

            // Not enough stock: the line whose running total goes beyond what is on hand (5 of A).
            try await Self.expectRefusedDocument(
                api, Self.body("sell", [("C", 0 + 1), ("A", 3)]), status: .conflict, code: "insufficient_stock", line: 1)
            try await Self.expectRefusedDocument(
                api, Self.body("sell", [("A", 3), ("A", 2), ("A", 1)]), status: .conflict, code: "insufficient_stock", line: 3)
            try await Self.expectRefusedDocument(
                api, Self.body("receive", [("A", 1), ("NOPE", 2)]), status: .notFound, code: "unknown_sku", line: 2)
            try await Self.expectRefusedDocument(
                api, Self.body("receive", [("A", 1), ("C", 2), ("B", 1)]), status: .conflict, code: "product_deleted", line: 3)
            try await Self.expectRefusedDocument(
                api, Self.body("receive", [("A", 1), ("C", 0)]), status: .unprocessableContent, code: "invalid_quantity", line: 2)
            try await Self.expectRefusedDocument(
                api, Self.body("receive", [("A", 1), ("C", -4)]), status: .unprocessableContent, code: "invalid_quantity", line: 2)
            try await Self.expectRefusedDocument(
                api, Self.body("receive", [("A", 600_000_000), ("A", 600_000_000)]),
                status: .unprocessableContent, code: "invalid_quantity", line: 2)
            try await Self.expectRefusedDocument(
                api, Self.body("receive", [("A", 1), ("C", 1), ("bad sku", 1)]), status: .unprocessableContent, code: "invalid_input", line: 3)
            try await Self.expectRefusedDocument(
                api, #"{"type": "receive", "lines": [{"sku": "A", "quantity": 1}, {"sku": "C", "quantity": "two"}]}"#,
                status: .badRequest, code: "bad_request", line: 2)
            try await Self.expectRefusedDocument(
                api, #"{"type": "receive", "lines": [{"sku": "A", "quantity": 1}, {"quantity": 2}]}"#,
                status: .badRequest, code: "bad_request", line: 2)
            // A count names each product once.
            try await Self.expectRefusedDocument(
                api, Self.body("count", [("A", 1), ("C", 1), ("A", 2)]), status: .unprocessableContent, code: "invalid_input", line: 3)
            try await Self.expectRefusedDocument(
                api, Self.body("count", [("A", -1)]), status: .unprocessableContent, code: "invalid_input", line: 1)

            // Refusals of the whole document carry no line.
            try await Self.expectRefusedDocument(api, Self.body("receive", []), status: .unprocessableContent, code: "invalid_input", line: nil)
            try await Self.expectRefusedDocument(
                api, Self.body("transfer", [("A", 1)]), status: .unprocessableContent, code: "invalid_input", line: nil)
            try await Self.expectRefusedDocument(
                api, Self.body("transfer", [("A", 1)], extra: #", "to": "ZZZ""#), status: .unprocessableContent, code: "unknown_warehouse", line: nil)
            try await Self.expectRefusedDocument(
                api, Self.body("receive", [("A", 1)], extra: #", "to": "SEV""#), status: .unprocessableContent, code: "invalid_input", line: nil)
            try await Self.expectRefusedDocument(
                api, Self.body("receive", [("A", 1)], extra: #", "id": "nope""#), status: .unprocessableContent, code: "invalid_input", line: nil)
            try await Self.expectRefusedDocument(
                api, Self.body("move", [("A", 1)]), status: .badRequest, code: "bad_request", line: nil)
            try await api.expectRefused(
                .post, "/v1/documents", token: api.reporter, json: Self.body("receive", [("A", 1)]), status: .forbidden, code: "forbidden")
            #expect(try await api.stock("A") == 5)
        }
    }

    @Test func aSKUInAnotherCaseNamesItsProductAndIsSummedWithIt() async throws {
        try await APISession.with { api in
            try await api.createProduct("CHAIR-01")
            let document = try await api.expectStatus(
                .created, .post, "/v1/documents", token: api.staff, json: Self.body("receive", [("chair-01", 2), ("CHAIR-01", 3), ("Chair-01", 1)])
            ).object()
            let lines = try #require(document["lines"] as? [JSONObject])
            #expect(lines.map { $0.string("sku") } == ["CHAIR-01"])
            #expect(lines.map { $0.int("quantity") } == [6])
            #expect(try await api.stock("CHAIR-01") == 6)
            try await Self.expectRefusedDocument(
                api, Self.body("count", [("CHAIR-01", 1), ("chair-01", 2)]), status: .unprocessableContent, code: "invalid_input", line: 2)
        }
    }

    @Test func tenThousandLinesAreOneDocumentAndOneMoreIsRefused() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            try await api.createProduct("B")
            let lines = (0..<DocumentRequest.maxLines).map { ($0 % 2 == 0 ? "A" : "B", Int64(1)) }
            let document = try await api.expectStatus(.created, .post, "/v1/documents", token: api.staff, json: Self.body("receive", lines)).object()
            #expect((document["lines"] as? [JSONObject])?.map { $0.int("quantity") } == [5_000, 5_000])
            #expect(try await api.stock("A") == 5_000)
            try await Self.expectRefusedDocument(
                api, Self.body("receive", lines + [("A", 1)]), status: .unprocessableContent, code: "invalid_input", line: nil)
        }
    }

    @Test func aCountAdjustsAgainstTheStockOnHandAtSubmission() async throws {
        try await APISession.with { api in
            for sku in ["A", "B", "C"] { try await api.createProduct(sku) }
            try await api.move("receive", "A", 10)
            try await api.move("receive", "B", 4)
            let id = RouterTests.uuid()
            let json = Self.body("count", [("A", 7), ("B", 4), ("C", 3)], extra: #", "id": "\#(id)""#)
            let created = try await api.expectStatus(.created, .post, "/v1/documents", token: api.staff, json: json)
            let lines = try #require(try created.object()["lines"] as? [JSONObject])
            #expect(lines.allSatisfy { $0.keySet == ["sku", "quantity", "movement", "counted", "adjustment"] })
            #expect(lines.map { $0.int("counted") } == [7, 4, 3])
            #expect(lines.map { $0.int("adjustment") } == [-3, 0, 3])
            #expect(lines[1].isNull("movement"), "a line already right records nothing")
            let adjustment = try await api.expectStatus(
                .ok, .get, "/v1/movements/\(try #require(lines[0].string("movement")))", token: api.reporter).object()
            #expect(adjustment.string("type") == "adjust")
            #expect(adjustment.int("delta") == -3)
            #expect(adjustment.string("reason") == "count")
            #expect(try await api.stock("A") == 7)
            #expect(try await api.stock("C") == 3)
            // A sale after the count; the retried count answers the stored document and undoes nothing.
            try await api.move("sell", "A", 2)
            let before = try api.fixture.snapshot()
            let repeated = try await api.expectStatus(.ok, .post, "/v1/documents", token: api.staff, json: json)
            #expect(repeated.canonicalJSON == created.canonicalJSON)
            #expect(try api.fixture.snapshot() == before)
            #expect(try await api.stock("A") == 5)
        }
    }

    @Test func aCountThatStartedEarlierLeavesWhatMovedMeanwhileAlone() async throws {
        try await APISession.with { api in
            for sku in ["A", "B"] { try await api.createProduct(sku) }
            try await api.move("receive", "A", 10)
            let started = try #require(try await api.move("receive", "B", 4).string("timestamp"))
            let startMilliseconds = try #require(DateParsing.milliseconds(started))
            // Operations in the start's millisecond count as before it: wait for the clock to pass it.
            while UInt64(Date().timeIntervalSince1970 * 1_000) <= startMilliseconds + 1 {
                try await Task.sleep(for: .milliseconds(1))
            }
            // While the shelves are counted: 3 of A sold, 5 of B received.
            try await api.move("sell", "A", 3)
            try await api.move("receive", "B", 5)
            let startedAt = #", "started_at": "\#(started)""#
            let counted = try await api.expectStatus(
                .created, .post, "/v1/documents", token: api.staff,
                json: Self.body("count", [("A", 8), ("B", 4)], extra: startedAt)).object()
            let lines = try #require(counted["lines"] as? [JSONObject])
            // Against the stock when counting started (A 10, B 4), not now (A 7, B 9).
            #expect(lines.map { $0.int("adjustment") } == [-2, 0])
            #expect(lines[1].isNull("movement"))
            #expect(try await api.stock("A") == 5)
            #expect(try await api.stock("B") == 9)

            try await Self.expectRefusedDocument(
                api, Self.body("receive", [("A", 1)], extra: startedAt), status: .unprocessableContent,
                code: "invalid_input", line: nil)
            try await Self.expectRefusedDocument(
                api, Self.body("count", [("A", 1)], extra: #", "started_at": "yesterday""#), status: .unprocessableContent,
                code: "invalid_input", line: nil)
        }
    }

    @Test func aTransferDocumentShipsEveryLine() async throws {
        try await APISession.with { api in
            for sku in ["A", "B"] { try await api.createProduct(sku) }
            try await api.move("receive", "A", 10)
            try await api.move("receive", "B", 10)
            _ = try await api.fixture.node.store.submit(.setMember(warehouse: "SEV", peerURL: "https://sev.example:8444", retired: false))
            let document = try await api.expectStatus(
                .created, .post, "/v1/documents", token: api.staff,
                json: Self.body("transfer", [("A", 4), ("B", 6)], extra: #", "to": "SEV", "reason": "restock""#)
            ).object()
            #expect(document.string("to") == "SEV")
            #expect(document.string("reason") == "restock")
            let transfers = try await api.expectStatus(.ok, .get, "/v1/transfers", token: api.reporter).array()
            #expect(Set(transfers.compactMap { $0.string("sku") }) == ["A", "B"])
            #expect(transfers.allSatisfy { $0.string("to") == "SEV" })
            #expect(try await api.stock("A") == 6)
            #expect(try await api.stock("B") == 4)
        }
    }

    /// Random documents, some with a bad line: each either applies every line (stock moves by the document's
    /// totals) or none (the full materialised state and the ledger are unchanged, and no document is stored).
    @Test func everyDocumentAppliesAllItsLinesOrNone() async throws {
        let seed = SplitMix64.testSeed()
        try await APISession.with { api in
            var random = SplitMix64(seed: seed)
            let skus = ["A", "B", "C", "D"]
            for sku in skus { try await api.createProduct(sku) }
            _ = try await api.expectStatus(.ok, .delete, "/v1/products/D", token: api.admin)
            var stock: [String: Int64] = ["A": 0, "B": 0, "C": 0]
            for round in 0..<60 {
                let type = ["receive", "sell", "count"].randomElement(using: &random)!
                let count = Int.random(in: 1...8, using: &random)
                var lines: [(String, Int64)] = []
                for _ in 0..<count {
                    let sku = Int.random(in: 0..<20, using: &random) == 0 ? ["D", "NOPE"].randomElement(using: &random)! : skus.dropLast().randomElement(using: &random)!
                    let quantity = Int.random(in: 0..<25, using: &random) == 0 ? 0 : Int64.random(in: 1...6, using: &random)
                    lines.append((sku, quantity))
                }
                let id = RouterTests.uuid()
                let before = try api.fixture.snapshot()
                let response = try await api.send(.post, "/v1/documents", token: api.staff, json: Self.body(type, lines, extra: #", "id": "\#(id)""#))
                let context = "seed \(seed) round \(round): \(type) \(lines) → \(response.status) \(response.text.prefix(200))"
                if response.status == .created {
                    var totals: [String: Int64] = [:]
                    for (sku, quantity) in lines { totals[sku, default: 0] += quantity }
                    for (sku, total) in totals {
                        switch type {
                        case "receive": stock[sku, default: 0] += total
                        case "sell": stock[sku, default: 0] -= total
                        default: stock[sku] = total
                        }
                    }
                    _ = try await api.expectStatus(.ok, .get, "/v1/documents/\(id)", token: api.reporter)
                } else {
                    #expect([.conflict, .notFound, .unprocessableContent].contains(response.status), "\(context)")
                    #expect(response.errorLine != nil, "\(context)")
                    #expect(try api.fixture.snapshot() == before, "\(context)")
                    #expect(try await api.send(.get, "/v1/documents/\(id)", token: api.reporter).status == .notFound, "\(context)")
                }
                for sku in skus.dropLast() {
                    #expect((try await api.stock(sku) ?? 0) == stock[sku], "\(context): stock of \(sku)")
                }
            }
        }
    }
}
