import Foundation
import HTTPTypes
import Store
import SyncServer
import Testing

@Suite("API: multi-line transfers, accepted in part and returned", .timeLimit(.minutes(3)))
struct TransferLinesRouterTests {
    @Test func acceptAndReturnLinesOfATransferDocument() async throws {
        try await APISession.with(warehouse: "MAD") { mad in
            _ = try await mad.fixture.node.store.submit(.setMember(warehouse: "SEV", peerURL: "https://sev.example:8443", retired: false))
            try await mad.createProduct("A")
            try await mad.createProduct("B")
            try await mad.move("receive", "A", 10)
            try await mad.move("receive", "B", 10)
            let document = try await mad.expectStatus(
                .created, .post, "/v1/documents", token: mad.staff,
                json: #"{"type": "transfer", "to": "SEV", "lines": [{"sku": "A", "quantity": 5}, {"sku": "B", "quantity": 3}]}"#
            ).object()
            let transferID = try #require(document.string("id"))
            let open = try await mad.expectStatus(.ok, .get, "/v1/transfers", token: mad.reporter).array()
            #expect(open.map { $0.string("id") } == [transferID, transferID])
            #expect(open.map { $0.string("sku") } == ["A", "B"])
            #expect(open.map { $0.int("quantity") } == [5, 3])
            #expect(open.map { $0.int("returned") } == [0, 0])
            try await mad.expectRefused(
                .post, "/v1/transfers/\(transferID)/return", token: mad.staff, json: #"{"reason": "no"}"#, status: .conflict,
                code: "not_destination")

            let ops = try mad.fixture.ownOperations()
            try await APISession.with(warehouse: "SEV") { sev in
                _ = try await sev.fixture.node.store.submit(.merge(ops))
                let accept = "/v1/transfers/\(transferID)/accept"
                let sendBack = "/v1/transfers/\(transferID)/return"
                try await sev.expectRefused(.post, sendBack, token: sev.staff, json: "{}", status: .unprocessableContent, code: "invalid_input")
                try await sev.expectRefused(
                    .post, sendBack, token: sev.staff, json: #"{"reason": " "}"#, status: .unprocessableContent, code: "invalid_input")
                try await sev.expectRefused(
                    .post, sendBack, token: sev.staff, json: #"{"sku": "B", "quantity": 4, "reason": "damaged"}"#, status: .conflict,
                    code: "over_return")
                try await sev.expectRefused(
                    .post, sendBack, token: sev.staff, json: #"{"sku": "C", "reason": "damaged"}"#, status: .notFound,
                    code: "unknown_transfer")
                try await sev.expectRefused(
                    .post, "/v1/transfers/\(RouterTests.uuid())/return", token: sev.staff, json: #"{"reason": "damaged"}"#,
                    status: .notFound, code: "unknown_transfer")
                try await sev.expectRefused(
                    .post, accept, token: sev.staff, json: #"{"sku": "A", "quantity": 6}"#, status: .conflict, code: "over_accept")
                try await sev.expectRefused(
                    .post, accept, token: sev.staff, json: #"{"quantity": 1}"#, status: .unprocessableContent, code: "invalid_input")
                try await sev.expectRefused(
                    .post, sendBack, token: sev.reporter, json: #"{"reason": "damaged"}"#, status: .forbidden, code: "forbidden")

                // Part of one line: its movement, as for a transfer of one product.
                let part = try await sev.expectStatus(.created, .post, accept, token: sev.staff, json: #"{"sku": "A", "quantity": 2}"#).object()
                #expect(part.keySet == RouterTests.movementKeys)
                #expect(part.string("type") == "accept" && part.int("quantity") == 2 && part.string("transfer_id") == transferID)

                let returnID = RouterTests.uuid()
                let body = #"{"sku": "B", "quantity": 1, "reason": "damaged", "id": "\#(returnID)"}"#
                let returned = try await sev.expectStatus(.created, .post, sendBack, token: sev.staff, json: body).object()
                #expect(returned.keySet == ["transfer", "transfer_back", "movements"])
                #expect(returned.string("transfer") == transferID && returned.string("transfer_back") == returnID)
                let movements = try #require(returned["movements"] as? [JSONObject])
                #expect(movements.map { $0.string("type") } == ["return"])
                #expect(movements.map { $0.int("quantity") } == [1] && movements.map { $0.int("delta") } == [0])
                #expect(movements.first?.string("counterpart") == "MAD")
                // A retry answers the same return.
                let again = try await sev.expectStatus(.ok, .post, sendBack, token: sev.staff, json: body).object()
                #expect((again["movements"] as? [JSONObject])?.map { $0.string("id") } == movements.map { $0.string("id") })

                // Everything left: one movement per line.
                let rest = try await sev.expectStatus(.created, .post, accept, token: sev.staff, json: "{}").object()
                #expect(rest.keySet == ["transfer", "movements"])
                let lines = try #require(rest["movements"] as? [JSONObject])
                #expect(lines.map { $0.string("sku") } == ["A", "B"] && lines.map { $0.int("quantity") } == [3, 2])
                let stockA = try await sev.stock("A")
                let stockB = try await sev.stock("B")
                #expect(stockA == 5 && stockB == 2)

                let inTransit = try await sev.expectStatus(.ok, .get, "/v1/transfers", token: sev.reporter).array()
                #expect(inTransit.map { [$0.string("id"), $0.string("from"), $0.string("to"), $0.string("sku")] } == [[returnID, "SEV", "MAD", "B"]])
                #expect(inTransit.first?.int("quantity") == 1)
                try await sev.expectRefused(
                    .post, "/v1/transfers/\(returnID)/accept", token: sev.staff, json: "{}", status: .conflict, code: "not_destination")
            }
        }
    }
}
