import Foundation
import Testing

extension InvCLITests {
    @Suite("Staff workflow: exact output of each command")
    struct WorkflowTests {
        static var uuid: Regex<Substring> { #/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/# }

        /// The movement id at the end of `received 20 x SKU-1 at MAD (movement ID)`-style lines.
        static func movementID(_ result: InvResult, expectedPrefix prefix: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
            expectSuccess(result, sourceLocation: sourceLocation)
            guard result.lines.count == 1, let line = result.lines.first, line.hasPrefix(prefix + " (movement "), line.hasSuffix(")") else {
                Issue.record("expected one line `\(prefix) (movement ID)`: \(result)", sourceLocation: sourceLocation)
                return nil
            }
            let id = String(line.dropFirst(prefix.count + " (movement ".count).dropLast())
            #expect(id.wholeMatch(of: uuid) != nil, "not a UUID: \(id)", sourceLocation: sourceLocation)
            return id
        }

        static func day(_ offset: Int) -> String {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            let date = calendar.date(byAdding: .day, value: offset, to: Date())!
            let parts = calendar.dateComponents([.year, .month, .day], from: date)
            return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
        }

        @Test("add, receive, sell, adjust; then stock, product, history, report and alerts")
        func staffWorkflow() throws {
            let node = try NodeFixture(warehouse: "MAD")
            defer { node.cleanup() }
            try node.start()

            let added = try node.inv("product", "add", "SKU-1", "--name", "Widget", "--price", "12.50", "--reorder-point", "5")
            expectSuccess(added)
            #expect(added.lines == ["added SKU-1 Widget"])
            let received = Self.movementID(try node.inv("receive", "SKU-1", "20"), expectedPrefix: "received 20 x SKU-1 at MAD")
            let sold = Self.movementID(try node.inv("sell", "SKU-1", "4"), expectedPrefix: "sold 4 x SKU-1 at MAD")
            let adjusted = Self.movementID(
                try node.inv("adjust", "SKU-1", "-3", "--reason", "damaged"), expectedPrefix: "adjusted SKU-1 by -3 at MAD")

            // stock: the table by lines, then the JSON contract.
            let stock = try node.inv("stock")
            expectSuccess(stock)
            #expect(stock.lines == [
                "SKU    WAREHOUSE  QUANTITY",
                "-----  ---------  --------",
                "SKU-1  MAD              13",
            ])
            for arguments in [["stock", "--json"], ["stock", "--all", "--json"], ["stock", "SKU-1", "--json"]] {
                let result = try node.run(arguments + ["--data", node.data])
                expectSuccess(result)
                let rows = try #require(try JSON.parse(result.stdout).array, "\(result)")
                #expect(rows.map { $0.only(["sku", "warehouse", "quantity"]) } == [["sku": "SKU-1", "warehouse": "MAD", "quantity": 13]], "\(arguments)")
                #expect(rows.allSatisfy { $0.keys.isSuperset(of: ["sku", "warehouse", "quantity"]) })
            }

            // product show --json: the contract keys, the price as a decimal string.
            let show = try node.inv("product", "show", "SKU-1", "--json")
            expectSuccess(show)
            let product = try JSON.parse(show.stdout)
            let productKeys: Set = ["sku", "name", "description", "price", "reorder_point", "deleted"]
            #expect(product.keys.isSuperset(of: productKeys), "\(product)")
            #expect(product.only(productKeys) == [
                "sku": "SKU-1", "name": "Widget", "description": "", "price": "12.50", "reorder_point": 5, "deleted": false,
            ])

            // history --json: every movement, in order, with who and why.
            let history = try node.inv("history", "--json")
            expectSuccess(history)
            let movements = try #require(try JSON.parse(history.stdout).array, "\(history)")
            let movementKeys: Set = ["id", "type", "sku", "warehouse", "quantity", "origin", "timestamp", "user", "reason"]
            #expect(movements.allSatisfy { $0.keys.isSuperset(of: movementKeys) }, "\(movements)")
            #expect(movements.map { $0.only(["type", "sku", "warehouse", "quantity", "origin", "user", "reason"]) } == [
                ["type": "product.create", "sku": "SKU-1", "warehouse": nil, "quantity": 0, "origin": "MAD", "user": "admin", "reason": nil],
                ["type": "receive", "sku": "SKU-1", "warehouse": "MAD", "quantity": 20, "origin": "MAD", "user": "admin", "reason": nil],
                ["type": "sell", "sku": "SKU-1", "warehouse": "MAD", "quantity": 4, "origin": "MAD", "user": "admin", "reason": nil],
                ["type": "adjust", "sku": "SKU-1", "warehouse": "MAD", "quantity": -3, "origin": "MAD", "user": "admin", "reason": "damaged"],
            ])
            #expect(movements.dropFirst().map { $0["id"]?.string } == [received, sold, adjusted])
            let timestamps = movements.compactMap { $0["timestamp"]?.string }
            let parsed = timestamps.compactMap { try? Date($0, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) }
            #expect(parsed.count == 4 && parsed == parsed.sorted(), "\(timestamps)")
            #expect(parsed.allSatisfy { abs($0.timeIntervalSinceNow) < 600 }, "\(timestamps)")

            // The table: a header, a rule and one row per movement.
            let table = try node.inv("history", "--sku", "SKU-1")
            expectSuccess(table)
            #expect(table.lines.first?.split(separator: " ") == [
                "TIME", "WAREHOUSE", "TYPE", "SKU", "QTY", "BALANCE", "USER", "REF", "TO/FROM",
            ])
            #expect(table.lines.count == 6, "\(table)")

            // CSV: the header line, then one line per movement.
            let csv = try node.inv("history", "--format", "csv")
            expectSuccess(csv)
            #expect(csv.stdout.hasSuffix("\n"))
            #expect(csv.lines.first == "id,type,sku,warehouse,quantity,delta,origin,sequence,timestamp,user,reason,reference,transfer_id,counterpart,document")
            #expect(csv.lines.count == 5, "\(csv)")
            if csv.lines.count == 5, let adjusted, let timestamp = timestamps.last {
                #expect(csv.lines[4] == "\(adjusted),adjust,SKU-1,MAD,-3,-3,MAD,4,\(timestamp),admin,damaged,,,,")
            }

            // The movements report: opening, in, out, closing.
            let report = try node.inv("report", "movements", "--from", Self.day(-1), "--to", Self.day(1), "--format", "json")
            expectSuccess(report)
            #expect(try JSON.parse(report.stdout) == [
                ["sku": "SKU-1", "warehouse": "MAD", "opening": 0, "in": 20, "out": 7, "closing": 13],
            ])
            let reportTable = try node.inv("report", "movements", "--from", Self.day(-1), "--to", Self.day(1))
            expectSuccess(reportTable)
            #expect(reportTable.lines == [
                "SKU    WAREHOUSE  OPENING  IN  OUT  CLOSING",
                "-----  ---------  -------  --  ---  -------",
                "SKU-1  MAD              0  20    7       13",
            ])
            let future = try node.inv("report", "movements", "--from", Self.day(1), "--to", Self.day(2), "--format", "csv")
            expectSuccess(future)
            #expect(future.lines == ["sku,warehouse,opening,in,out,closing", "SKU-1,MAD,13,0,0,13"])

            // Alerts: none at 13; selling down to 4 (reorder point 5) raises one.
            let none = try node.inv("alerts")
            expectSuccess(none)
            #expect(none.lines == ["no alerts"])
            #expect(try JSON.parse(try node.inv("alerts", "--json").stdout) == [])
            _ = Self.movementID(try node.inv("sell", "SKU-1", "9"), expectedPrefix: "sold 9 x SKU-1 at MAD")
            let alerts = try node.inv("alerts", "--json")
            expectSuccess(alerts)
            let rows = try #require(try JSON.parse(alerts.stdout).array, "\(alerts)")
            #expect(rows.allSatisfy { $0.keys.isSuperset(of: ["sku", "warehouse", "quantity", "reorder_point"]) })
            #expect(rows.map { $0.only(["sku", "warehouse", "quantity", "reorder_point"]) } == [
                ["sku": "SKU-1", "warehouse": "MAD", "quantity": 4, "reorder_point": 5],
            ])
        }

        @Test("empty lists: one line saying so in table mode, [] with --json, a bare header in CSV")
        func emptyLists() throws {
            // Two members, so that a transfer can show the table again at the end.
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            for member in [mad, sev] { try member.start() }

            let tables: [(arguments: [String], line: String)] = [
                (["transfers"], "no transfers in transit"),
                (["stock"], "no stock"),
                (["stock", "--all"], "no stock"),
                (["history"], "no movements"),
                (["product", "list"], "no products"),
                (["product", "list", "--include-deleted"], "no products"),
                (["alerts"], "no alerts"),
                (["conflicts"], "no conflicts"),
                (["report", "movements", "--from", "2026-01-01", "--to", "2026-02-01"],
                 "no stock held or moved from 2026-01-01 to 2026-02-01"),
            ]
            for (arguments, line) in tables {
                let result = try mad.run(arguments + ["--data", mad.data])
                expectSuccess(result)
                #expect(result.lines == [line], "\(result)")
                let json = try mad.run(arguments + ["--json", "--data", mad.data])
                expectSuccess(json)
                #expect(try JSON.parse(json.stdout) == [], "\(json)")
            }
            // A SKU no product has is an error, not an empty list.
            for arguments in [["stock", "SKU-1"], ["history", "--sku", "SKU-1", "--type", "sell"]] {
                #expect(expectOneLineError(try mad.run(arguments + ["--data", mad.data]))
                    == "inv: error: unknown SKU SKU-1: no product has it (see `inv product list`)")
            }
            let csv = try mad.inv("history", "--format", "csv")
            expectSuccess(csv)
            #expect(csv.lines == ["id,type,sku,warehouse,quantity,delta,origin,sequence,timestamp,user,reason,reference,transfer_id,counterpart,document"])

            // The table once there is something to show: a transfer, until it is accepted.
            expectSuccess(try mad.inv("product", "add", "SKU-1", "--name", "Widget"))
            expectSuccess(try mad.inv("receive", "SKU-1", "5"))
            let shipped = try mad.inv("transfer", "SKU-1", "5", "--to", "SEV")
            let id = try #require(shipped.lines.first, "\(shipped)")
            let inTransit = try mad.inv("transfers")
            expectSuccess(inTransit)
            #expect(inTransit.lines.first?.split(separator: " ") == ["ID", "SKU", "FROM", "TO", "IN", "TRANSIT", "SHIPPED", "ACCEPTED", "RETURNED", "SHIPPED", "AT"])
            // A transfer is named by the shortest unique prefix of its id, at least 8 characters.
            #expect(inTransit.lines.count == 5 && inTransit.lines[2].hasPrefix(id.prefix(8) + "  ") == true, "\(inTransit)")
            #expect(inTransit.lines.suffix(2) == ["", "in transit to SEV: 5 (1 transfer)"], "\(inTransit)")
            #expect(try sev.inv("sync").status == 0)
            expectSuccess(try sev.inv("accept", id))
            #expect(try mad.inv("sync").status == 0)
            let accepted = try mad.inv("transfers")
            expectSuccess(accepted)
            #expect(accepted.lines == ["no transfers in transit"], "\(accepted)")
        }

        @Test("a retried receive with the same --id is recorded once")
        func idempotentRetry() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            try node.start()
            expectSuccess(try node.inv("product", "add", "SKU-1", "--name", "Widget"))
            let id = "5b2d1c4e-1111-4222-8333-444455556666"
            let first = try node.inv("receive", "SKU-1", "2", "--id", id)
            expectSuccess(first)
            #expect(first.lines == ["received 2 x SKU-1 at MAD (movement \(id))"])
            let retry = try node.inv("receive", "SKU-1", "2", "--id", id)
            expectSuccess(retry)
            #expect(retry.lines == ["received 2 x SKU-1 at MAD (movement \(id)) (already recorded; nothing changed)"])

            #expect(try JSON.parse(try node.inv("stock", "--json").stdout).array?.map { $0["quantity"] } == [2])
            let movements = try #require(try JSON.parse(try node.inv("history", "--json", "--type", "receive").stdout).array)
            #expect(movements.map { $0["id"] } == [.string(id)])
        }

        @Test("a reporter token reads but cannot sell; once revoked it is refused")
        func reporterToken() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            try node.start()
            expectSuccess(try node.inv("product", "add", "SKU-1", "--name", "Widget"))
            _ = Self.movementID(try node.inv("receive", "SKU-1", "5"), expectedPrefix: "received 5 x SKU-1 at MAD")

            let created = try node.inv("token", "create", "--role", "reporter", "--name", "auditor")
            #expect(created.status == 0, "\(created)")
            #expect(created.lines.count == 1, "the secret is one line on stdout: \(created)")
            let secret = created.lines.first ?? ""
            let match = try #require(secret.wholeMatch(of: #/inv_([0-9a-f]{12})_[0-9a-f]{32,}/#), "\(created)")
            let tokenID = String(match.1)
            #expect(created.stderrLines == ["created reporter token \(tokenID) for auditor; the secret above is shown once"])

            let sell = try node.inv("sell", "SKU-1", "1", "--token", secret)
            #expect(expectOneLineError(sell) == "inv: error: this needs a staff token; yours is reporter")
            // Reading works, here through --node/--ca/--token rather than a data directory.
            let remote = ["--node", node.url, "--ca", node.caFile, "--token", secret]
            let stock = try node.run(["stock"] + remote)
            expectSuccess(stock)
            #expect(stock.lines == ["SKU    WAREHOUSE  QUANTITY", "-----  ---------  --------", "SKU-1  MAD               5"])

            let listed = try #require(try JSON.parse(try node.inv("token", "list", "--json").stdout).array)
            let entry = try #require(listed.first { $0["id"] == .string(tokenID) }, "\(listed)")
            #expect(entry.only(["name", "role", "revoked"]) == ["name": "auditor", "role": "reporter", "revoked": false])
            #expect(listed.allSatisfy { $0["token"] == nil }, "token list never shows secrets: \(listed)")

            let revoke = try node.inv("token", "revoke", tokenID)
            expectSuccess(revoke)
            #expect(revoke.lines == ["revoked \(tokenID)"])
            #expect(expectOneLineError(try node.run(["stock"] + remote)) == "inv: error: missing or invalid bearer token")
            let after = try #require(try JSON.parse(try node.inv("token", "list", "--json").stdout).array)
            #expect(after.first { $0["id"] == .string(tokenID) }?["revoked"] == true)
        }
    }
}
