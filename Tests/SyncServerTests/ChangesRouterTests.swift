import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Store
import SyncServer
import Testing

/// `GET /v1/changes` through the router: pages by a version-vector cursor, gaps held back, bad cursors refused,
/// the long-poll woken by a commit.
@Suite("API: the change feed", .timeLimit(.minutes(3)))
struct ChangesRouterTests {
    /// Reads every page from `since` and returns the entries, the last page and the number of pages.
    static func readAll(_ api: APISession, since: String? = nil, limit: Int) async throws -> (entries: [JSONObject], last: JSONObject, pages: Int) {
        var entries: [JSONObject] = []
        var cursor = since
        var pages = 0
        while true {
            let uri = "/v1/changes?limit=\(limit)" + (cursor.map { "&since=\($0)" } ?? "")
            let page = try await api.expectStatus(.ok, .get, uri, token: api.reporter).object()
            pages += 1
            #expect(page.keySet == ["changes", "next", "waiting_for", "more"], "\(page.keySet)")
            let changes = try #require(page["changes"] as? [JSONObject])
            entries += changes
            cursor = page.string("next")
            if page.bool("more") != true || pages > 100 { return (entries, page, pages) }
        }
    }

    @Test func pagesDeliverEachOperationOnceWithHistoryKeys() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            for _ in 0..<9 { try await api.move("receive", "A", 2) }
            let history = try await api.expectStatus(.ok, .get, "/v1/history?limit=1000", token: api.reporter).object()
            let movements = try #require(history["movements"] as? [JSONObject])
            for limit in [1, 3, 10, 1_000] {
                let (entries, last, pages) = try await Self.readAll(api, limit: limit)
                #expect(entries.map { $0.int("sequence") } == (1...10).map { Int64($0) }, "limit \(limit)")
                #expect(pages == (10 + limit - 1) / limit, "limit \(limit): \(pages) pages")
                #expect(entries.allSatisfy { $0.keySet == RouterTests.movementKeys.union(["hlc"]) })
                for (entry, movement) in zip(entries, movements) {
                    #expect(entry.string("id") == movement.string("id"))
                    #expect(entry.string("timestamp") == movement.string("timestamp"))
                    let hlc = try #require(entry.string("hlc").flatMap(UInt64.init))
                    #expect(RouterTests.isTimestamp(entry.string("timestamp")) && hlc > 0)
                }
                // The final cursor covers everything: nothing more, and it answers itself.
                let cursor = try #require(last.string("next"))
                let again = try await api.expectStatus(.ok, .get, "/v1/changes?since=\(cursor)", token: api.reporter).object()
                #expect((again["changes"] as? [JSONObject])?.isEmpty == true && again.string("next") == cursor && again.bool("more") == false)
            }
            // New operations after the cursor, and only they, come next.
            let (_, last, _) = try await Self.readAll(api, limit: 1_000)
            try await api.move("sell", "A", 1)
            let (later, _, _) = try await Self.readAll(api, since: last.string("next"), limit: 1_000)
            #expect(later.map { $0.string("type") } == ["sell"])
        }
    }

    @Test func tabSeparatedPagesCarryTheEntriesAndCursorsOfTheJSONOnes() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            try await api.move("receive", "A", 5, extra: #", "reason": "tab\there, new\nline, back\\slash""#)
            for _ in 0..<4 { try await api.move("sell", "A", 1) }
            let columns = TabSeparatedText.changeColumns
            for limit in [1, 2, 1_000] {
                var jsonCursor: String?
                var tsvCursor: String?
                while true {
                    let suffix = "limit=\(limit)" + (jsonCursor.map { "&since=\($0)" } ?? "")
                    let json = try await api.expectStatus(.ok, .get, "/v1/changes?\(suffix)", token: api.reporter).object()
                    let tsv = try await api.expectStatus(
                        .ok, .get, "/v1/changes?format=tsv&limit=\(limit)" + (tsvCursor.map { "&since=\($0)" } ?? ""), token: api.reporter)
                    #expect(tsv.headers[.contentType] == "text/tab-separated-values; charset=utf-8")
                    let header = { (name: API.ChangesPage.Header) in tsv.headers[HTTPField.Name(name.rawValue)!] }
                    #expect(header(.next) == json.string("next"))
                    #expect(header(.more) == (json.bool("more") == true ? "true" : "false"))
                    #expect(header(.waitingFor) == (json["waiting_for"] as? [String])?.joined(separator: ","))
                    var rows: [[String?]] = []
                    tsv.body.withUnsafeReadableBytes { text in
                        TabSeparatedText.forEachRow(in: text) { row in
                            #expect(row.fieldCount == columns.count)
                            rows.append((0..<columns.count).map { row.text(at: $0) })
                        }
                    }
                    #expect(rows.first == columns)
                    let entries = try #require(json["changes"] as? [JSONObject])
                    #expect(rows.count == entries.count + 1)
                    for (row, entry) in zip(rows.dropFirst(), entries) {
                        for (column, value) in zip(columns, row) {
                            let expected = entry[column].flatMap { $0 is NSNull ? nil : "\($0)" }
                            #expect(value == expected, "\(column)")
                        }
                    }
                    jsonCursor = json.string("next")
                    tsvCursor = header(.next)
                    if json.bool("more") != true { break }
                }
            }
        }
    }

    @Test func aGapInAnOriginIsNeverSkipped() async throws {
        try await APISession.with(warehouse: "SEV") { sev in
            try await APISession.with { api in
                // SEV's operations 1-5; MAD merges 1, 2, 4 and 5 first, 3 later.
                try await sev.createProduct("S")
                for _ in 0..<4 { try await sev.move("receive", "S", 1) }
                let operations = try sev.fixture.ownOperations()
                #expect(operations.count == 5)
                func merge(_ selected: [LedgerOperation]) async throws {
                    guard case .merged(let report) = try await api.fixture.node.store.submit(.merge(selected)) else {
                        Issue.record("not merged")
                        return
                    }
                    #expect(report.refused.isEmpty, "\(report.refused)")
                }
                try await merge(operations.filter { $0.sequence != 3 })

                let first = try await api.expectStatus(.ok, .get, "/v1/changes", token: api.reporter).object()
                let dots = (first["changes"] as? [JSONObject] ?? []).map { "\($0.string("origin") ?? ""):\($0.int("sequence") ?? 0)" }
                #expect(dots == ["SEV:1", "SEV:2"])
                #expect(first["waiting_for"] as? [String] == ["SEV"])
                let cursor = try #require(first.string("next"))

                try await merge(operations.filter { $0.sequence == 3 })
                let second = try await api.expectStatus(.ok, .get, "/v1/changes?since=\(cursor)", token: api.reporter).object()
                let rest = (second["changes"] as? [JSONObject] ?? []).map { "\($0.string("origin") ?? ""):\($0.int("sequence") ?? 0)" }
                #expect(rest == ["SEV:3", "SEV:4", "SEV:5"])
                #expect(second["waiting_for"] as? [String] == [])
            }
        }
    }

    @Test func badCursorsAndParametersAreRefused() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            let next = try #require(try await api.expectStatus(.ok, .get, "/v1/changes", token: api.reporter).object().string("next"))
            for bad in ["x", "AQ", "AgA", "!!!!", next + "A", String(next.dropLast()), "AQE", String(repeating: "A", count: 70_000)] {
                try await api.expectRefused(.get, "/v1/changes?since=\(bad)", token: api.reporter, status: .badRequest, code: "invalid_cursor")
            }
            for query in ["limit=0", "limit=10001", "limit=x", "wait=-1", "wait=56", "wait=x", "format=csv", "format=TSV"] {
                try await api.expectRefused(.get, "/v1/changes?\(query)", token: api.reporter, status: .unprocessableContent, code: "invalid_input")
            }
        }
    }

    @Test func aLongPollReturnsWhenAnOperationCommits() async throws {
        try await APISession.with { api in
            try await api.createProduct("A")
            let cursor = try #require(try await api.expectStatus(.ok, .get, "/v1/changes", token: api.reporter).object().string("next"))
            async let waited = api.expectStatus(.ok, .get, "/v1/changes?since=\(cursor)&wait=55", token: api.reporter)
            // The poll must be waiting before the write: wait until it has subscribed to the node's events.
            let deadline = ContinuousClock.now + .seconds(20)
            while api.fixture.node.events.subscriberCount == 0, ContinuousClock.now < deadline { await Task.yield() }
            try await api.move("receive", "A", 3)
            let page = try await waited.object()
            #expect((page["changes"] as? [JSONObject])?.map { $0.string("type") } == ["receive"])
        }
    }
}
