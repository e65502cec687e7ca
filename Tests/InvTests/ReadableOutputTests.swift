import Foundation
import Testing

extension InvCLITests {
    /// Tables and lines for people: exact output, at most 100 columns, numbers written one way.
    @Suite("Readable output: history, stock --all, transfers, alerts")
    struct ReadableOutputTests {
        /// A zone far from UTC (and not a whole hour off), so that local and UTC times cannot be confused.
        static let zone = "Asia/Kolkata"
        static var environment: [String: String] { ["TZ": zone] }

        /// `timestamp` (the API's UTC text) as the CLI shows it in ``zone``: `2026-12-03 02:21:00`.
        static func local(_ timestamp: String?, timeOnly: Bool = false) -> String {
            guard let timestamp,
                  let date = try? Date(timestamp, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            else { return "?" }
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: zone)!
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
            let clock = String(format: "%02d:%02d:%02d", parts.hour!, parts.minute!, parts.second!)
            return timeOnly ? clock : String(format: "%04d-%02d-%02d ", parts.year!, parts.month!, parts.day!) + clock
        }

        /// Today's date in ``zone``, offset by `days`: `2026-12-03`.
        static func localDay(_ days: Int) -> String {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: zone)!
            let date = calendar.date(byAdding: .day, value: days, to: Date())!
            let parts = calendar.dateComponents([.year, .month, .day], from: date)
            return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
        }

        /// `value` with comma thousand separators, as tables and lines for people write numbers.
        static func grouped(_ value: some BinaryInteger) -> String {
            let digits = String(value.magnitude)
            var text = ""
            for (index, digit) in digits.enumerated() {
                if index > 0, (digits.count - index) % 3 == 0 { text.append(",") }
                text.append(digit)
            }
            return (value < 0 ? "-" : "") + text
        }

        static func expectFits(_ result: InvResult, sourceLocation: SourceLocation = #_sourceLocation) {
            for line in result.lines {
                #expect(line.count <= 100, "wider than 100 columns (\(line.count)): \(line)", sourceLocation: sourceLocation)
            }
        }

        @Test("history: time, warehouse, type, SKU, quantity, balance, user, reference, counterpart; --limit, --reverse, --since")
        func history() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            for member in [mad, sev] { try member.start() }
            expectSuccess(try mad.inv("product", "add", "CHAIR-01", "--name", "Chair"))
            expectSuccess(try mad.inv("receive", "CHAIR-01", "1200", "--reference", "PO-1001"))
            expectSuccess(try mad.inv("sell", "CHAIR-01", "3", "--reference", "SO-77"))
            let shipped = try mad.inv("transfer", "CHAIR-01", "5", "--to", "SEV")
            let transferID = try #require(shipped.lines.first, "\(shipped)")
            try cluster.converge([mad, sev])
            expectSuccess(try sev.inv("accept", transferID))
            try cluster.converge([mad, sev])

            let movements = try mad.history("--sku", "CHAIR-01")
            let times = movements.map { Self.local($0["timestamp"]?.string) }
            try #require(times.count == 5, "\(movements)")
            let table = try mad.run(["history", "--sku", "CHAIR-01", "--data", mad.data], environment: Self.environment)
            expectSuccess(table)
            Self.expectFits(table)
            #expect(table.lines == [
                "TIME                 WAREHOUSE  TYPE            SKU          QTY  BALANCE  USER   REF      TO/FROM",
                "-------------------  ---------  --------------  --------  ------  -------  -----  -------  --------",
                "\(times[0])  -          product.create  CHAIR-01                   admin",
                "\(times[1])  MAD        receive         CHAIR-01  +1,200    1,200  admin  PO-1001",
                "\(times[2])  MAD        sell            CHAIR-01      -3    1,197  admin  SO-77",
                "\(times[3])  MAD        transfer        CHAIR-01      -5    1,192  admin           to SEV",
                "\(times[4])  SEV        accept          CHAIR-01      +5        5  admin           from MAD",
            ])

            // --limit keeps the newest, oldest first; --reverse puts the newest first.
            let limited = try mad.run(
                ["history", "--sku", "CHAIR-01", "--limit", "2", "--reverse", "--type", "transfer,accept", "--data", mad.data],
                environment: Self.environment)
            expectSuccess(limited)
            #expect(limited.lines == [
                "TIME                 WAREHOUSE  TYPE      SKU       QTY  BALANCE  USER   REF  TO/FROM",
                "-------------------  ---------  --------  --------  ---  -------  -----  ---  --------",
                "\(times[4])  SEV        accept    CHAIR-01   +5        5  admin       from MAD",
                "\(times[3])  MAD        transfer  CHAIR-01   -5    1,192  admin       to SEV",
            ])
            let newest = try mad.run(["history", "--limit", "1", "--data", mad.data], environment: Self.environment)
            expectSuccess(newest)
            #expect(newest.lines == [
                "TIME                 WAREHOUSE  TYPE    SKU       QTY  USER   REF  TO/FROM",
                "-------------------  ---------  ------  --------  ---  -----  ---  --------",
                "\(times[4])  SEV        accept  CHAIR-01   +5  admin       from MAD",
                "(the newest 1 of 5 movements; --limit N shows more)",
            ])
            #expect(try mad.history("--reverse").map { $0["type"] } == ["accept", "transfer", "sell", "receive", "product.create"])

            // --utc: the same instant with a Z.
            let utc = try mad.run(["history", "--limit", "1", "--utc", "--data", mad.data], environment: Self.environment)
            let stamp = try #require(movements.last?["timestamp"]?.string)
            let shown = String(stamp.prefix(10)) + " " + String(stamp.dropFirst(11).prefix(8)) + "Z"
            #expect(utc.lines.dropFirst(2).first?.hasPrefix(shown) == true, "\(utc)")

            // A bare date is local midnight: today (in the zone) holds them all, tomorrow none.
            let today = try mad.run(["history", "--since", Self.localDay(0), "--json", "--data", mad.data], environment: Self.environment)
            #expect(try JSON.parse(today.stdout).array?.count == 5, "\(today)")
            let tomorrow = try mad.run(["history", "--since", Self.localDay(1), "--data", mad.data], environment: Self.environment)
            expectSuccess(tomorrow)
            #expect(tomorrow.lines == ["no movements"])
            let bad = try mad.run(["history", "--since", "yesterday", "--data", mad.data])
            #expect(expectOneLineError(bad).contains("--since must be a date like 2026-12-02"), "\(bad)")
        }

        @Test("long SKUs, names and references: every table still fits 100 columns")
        func longNames() throws {
            let node = try NodeFixture(warehouse: "MAD")
            defer { node.cleanup() }
            try node.start()
            let sku = "LONG-" + String(repeating: "X", count: 59)
            let name = String(repeating: "Very long product name ", count: 8)
            expectSuccess(try node.inv("product", "add", sku, "--name", name, "--price", "1234567.5", "--reorder-point", "2000"))
            expectSuccess(try node.inv("receive", sku, "1500", "--reference", String(repeating: "R", count: 150)))
            for arguments in [["history"], ["history", "--sku", sku], ["stock"], ["stock", "--all"], ["product", "list"], ["alerts"], ["status"]] {
                let result = try node.run(arguments + ["--data", node.data], environment: ReadableOutputTests.environment)
                expectSuccess(result)
                Self.expectFits(result)
            }
            let list = try node.inv("product", "list")
            #expect(list.lines == [
                "SKU                              NAME                                     PRICE  REORDER AT  DELETED",
                "-------------------------------  --------------------------------  ------------  ----------  -------",
                "LONG-XXXXXXXXXXXXXXXXXXXXXXXXX…  Very long product name Very lon…  1,234,567.50       2,000",
            ])
            let alerts = try node.inv("alerts")
            #expect(alerts.lines.count == 3 && alerts.lines[2].contains("1,500       2,000"), "\(alerts)")
        }

        @Test("stock --all: SKUs by warehouses, total and in transit, data age per warehouse; csv, json, filters")
        func stockGrid() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            for member in [mad, sev] { try member.start() }
            expectSuccess(try mad.inv("product", "add", "CHAIR-01", "--name", "Chair"))
            expectSuccess(try mad.inv("product", "add", "DESK-02", "--name", "Desk"))
            try cluster.converge([mad, sev])
            expectSuccess(try mad.inv("receive", "CHAIR-01", "12000"))
            expectSuccess(try sev.inv("receive", "CHAIR-01", "7"))
            expectSuccess(try sev.inv("receive", "DESK-02", "3"))
            try cluster.converge([mad, sev])
            #expect(try mad.inv("transfer", "CHAIR-01", "1000", "--to", "SEV").status == 0)

            let grid = try mad.inv("stock", "--all")
            expectSuccess(grid)
            Self.expectFits(grid)
            try #require(grid.lines.count == 7, "\(grid)")
            #expect(grid.lines[0] == "MAD  this node")
            #expect(grid.lines[1].wholeMatch(of: #/SEV  last heard (just now|\d+ s ago|\d+ min ago)/#) != nil, "\(grid)")
            #expect(Array(grid.lines.dropFirst(2)) == [
                "",
                "SKU          MAD  SEV   TOTAL  IN TRANSIT",
                "--------  ------  ---  ------  ----------",
                "CHAIR-01  11,000    7  11,007       1,000",
                "DESK-02        -    3       3           0",
            ])
            let csv = try mad.inv("stock", "--all", "--format", "csv")
            expectSuccess(csv)
            #expect(csv.lines == ["sku,MAD,SEV,total,in_transit", "CHAIR-01,11000,7,11007,1000", "DESK-02,0,3,3,0"])
            let onlySEV = try mad.inv("stock", "--all", "--warehouse", "SEV", "--sku", "chair-01")
            expectSuccess(onlySEV)
            #expect(Array(onlySEV.lines.dropFirst()) == [
                "",
                "SKU       SEV   TOTAL  IN TRANSIT",
                "--------  ---  ------  ----------",
                "CHAIR-01    7  11,007       1,000",
            ])
            let json = try mad.json("stock", "--all")
            let moving = try #require(json.array?.first { $0["warehouse"] == "in-transit" }, "\(json)")
            #expect(moving.only(["sku", "quantity", "in_transit_to"]) == ["sku": "CHAIR-01", "quantity": 1000, "in_transit_to": ["SEV": 1000]])

            let transfers = try mad.inv("transfers")
            expectSuccess(transfers)
            Self.expectFits(transfers)
            #expect(transfers.lines.suffix(2) == ["", "in transit to SEV: 1,000 (1 transfer)"], "\(transfers)")
        }

        @Test("unknown SKUs fail everywhere; SKUs are unique regardless of case and found in any case")
        func skus() throws {
            let node = try NodeFixture(warehouse: "MAD")
            defer { node.cleanup() }
            try node.start()
            expectSuccess(try node.inv("product", "add", "CHAIR-01", "--name", "Chair"))
            for arguments in [["stock", "NOPE"], ["stock", "--all", "--sku", "NOPE"], ["history", "--sku", "NOPE"]] {
                let result = try node.run(arguments + ["--data", node.data])
                #expect(result.status == 1)
                #expect(expectOneLineError(result) == "inv: error: unknown SKU NOPE: no product has it (see `inv product list`)")
            }
            #expect(expectOneLineError(try node.inv("sell", "NOPE", "1")) == "inv: error: unknown sku NOPE")
            #expect(expectOneLineError(try node.inv("product", "add", "chair-01", "--name", "Other"))
                == "inv: error: product CHAIR-01 already exists; SKU chair-01 differs from it only by case")
            #expect(try node.inv("receive", "chair-01", "4").lines.first?.hasPrefix("received 4 x CHAIR-01 at MAD") == true)
            #expect(try node.inv("stock", "chair-01").lines.last == "CHAIR-01  MAD               4")
        }

        @Test("product remove with stock is refused unless --force; adjust below zero says the right numbers")
        func removeAndAdjust() throws {
            let node = try NodeFixture(warehouse: "MAD")
            defer { node.cleanup() }
            try node.start()
            expectSuccess(try node.inv("product", "add", "CHAIR-01", "--name", "Chair"))
            expectSuccess(try node.inv("receive", "CHAIR-01", "13"))
            #expect(expectOneLineError(try node.inv("adjust", "CHAIR-01", "-1000", "--reason", "count"))
                == "inv: error: cannot adjust CHAIR-01 in MAD by -1000: 13 on hand, so the count would fall to -987")
            #expect(expectOneLineError(try node.inv("product", "remove", "CHAIR-01"))
                == "inv: error: CHAIR-01 still has stock: 13 at MAD; remove it anyway with --force (force=true)")
            let forced = try node.inv("product", "remove", "CHAIR-01", "--force")
            expectSuccess(forced)
            #expect(forced.lines == ["removed CHAIR-01"])
        }

        @Test("help says what each option does")
        func help() throws {
            let root = try TemporaryDirectory()
            defer { root.cleanup() }
            let adjust = try runInv(["adjust", "--help"], in: root.path)
            #expect(adjust.stdout.contains("--reason <reason>       Why (required), e.g. damaged or stocktake."), "\(adjust)")
            for command in ["receive", "sell", "transfer", "accept"] {
                let help = try runInv([command, "--help"], in: root.path)
                #expect(help.stdout.contains("Why, recorded with the movement."), "\(help)")
                #expect(!help.stdout.contains("required for adjust"), "\(help)")
            }
            let add = try runInv(["product", "add", "--help"], in: root.path)
            #expect(add.stdout.contains("USAGE: inv product add <sku> --name <name>"), "\(add)")
        }
    }
}
