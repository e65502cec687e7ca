import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import Store
import SyncServer

struct Stock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stock of this warehouse, or with --all of every warehouse plus goods in transit.",
        discussion: """
            With --all the table has one row per SKU and one column per warehouse, then TOTAL (every warehouse) and \
            IN TRANSIT; above it, one line per warehouse says when it was last heard from, marking figures older \
            than 15 minutes as stale.
            """)
    @Argument(help: "Only this SKU (any case, when it names one product).") var sku: String?
    @Flag(help: "Every warehouse known here, plus goods in transit.") var all = false
    @Option(name: .customLong("sku"), help: "Only this SKU (same as the argument).") var skuOption: String? = nil
    @Option(help: "With --all: only these warehouses' columns (repeatable); TOTAL still counts every warehouse.")
    var warehouse: [String] = []
    @Option(help: "table, json or csv.") var format: OutputFormat = .table
    @OptionGroup var client: ClientOptions

    /// Figures from a warehouse last heard from longer ago than this are marked stale.
    static let staleAfterSeconds: TimeInterval = 15 * 60

    func validate() throws {
        if sku != nil, skuOption != nil, sku != skuOption { throw ValidationError("give the SKU once: as the argument or with --sku") }
        if !warehouse.isEmpty, !all { throw ValidationError("--warehouse needs --all (without it, the stock is this warehouse's)") }
    }

    func run() async throws {
        let format = client.json ? .json : format
        try await NodeClient.with(client) { node in
            var sku: String?
            if let typed = self.sku ?? skuOption { sku = try await node.resolveSKU(typed) }
            let reply = try await node.send(.GET, "/v1/stock", query: [("scope", all ? "all" : "local"), ("sku", sku)])
            var rows = try node.decode([API.StockRow].self, reply)
            if !warehouse.isEmpty {
                rows = rows.filter { warehouse.contains($0.warehouse) || $0.warehouse == StockRow.inTransit }
            }
            switch format {
            case .json:
                if warehouse.isEmpty { return try JSONOutput.print(raw: reply.body) }
                return try JSONOutput.print(rows)
            case .csv where !all:
                print("sku,warehouse,quantity")
                for row in rows { print(CSV.line([.text(row.sku), .text(row.warehouse), .number(row.quantity)]), terminator: "") }
                return
            case .table where !all:
                if rows.isEmpty { return print("no stock" + (sku.map { " of \($0)" } ?? "")) }
                return print(Table(
                    headers: ["SKU", "WAREHOUSE", "QUANTITY", ""],
                    rows: rows.map { [$0.sku, $0.warehouse, Formatting.count($0.quantity), $0.productDeleted ? "(product deleted)" : ""] },
                    numeric: [2]).render())
            default:
                let everyRow = warehouse.isEmpty ? rows : try node.decode([API.StockRow].self, reply)
                let grid = StockGrid(everyRow, columns: warehouse)
                if format == .csv { return print(grid.csv(), terminator: "") }
                if grid.skus.isEmpty { return print("no stock" + (sku.map { " of \($0)" } ?? "")) }
                print(grid.table(local: (try? client.dataDirectory?.loadConfig())?.warehouse))
            }
        }
    }
}

/// `inv stock --all` as a grid: SKUs as rows, warehouses as columns, a total and the goods in transit.
struct StockGrid {
    var skus: [String] = []
    var warehouses: [String] = []
    var quantities: [String: [String: Int64]] = [:]
    var totals: [String: Int64] = [:]
    var inTransit: [String: Int64] = [:]
    var deleted: Set<String> = []
    var lastHeard: [String: String] = [:]

    /// - Parameter columns: the warehouses to show (all when empty); the total counts every warehouse anyway.
    init(_ rows: [API.StockRow], columns: [String]) {
        var seen = Set<String>()
        for row in rows {
            if seen.insert(row.sku).inserted { skus.append(row.sku) }
            if row.productDeleted { deleted.insert(row.sku) }
            if row.warehouse == StockRow.inTransit {
                inTransit[row.sku, default: 0] += row.quantity
                continue
            }
            totals[row.sku, default: 0] += row.quantity
            if let heard = row.lastHeard { lastHeard[row.warehouse] = heard }
            guard columns.isEmpty || columns.contains(row.warehouse) else { continue }
            quantities[row.sku, default: [:]][row.warehouse] = row.quantity
            if !warehouses.contains(row.warehouse) { warehouses.append(row.warehouse) }
        }
        for column in columns where !warehouses.contains(column) { warehouses.append(column) }
        warehouses.sort()
    }

    func csv() -> String {
        var text = CSV.line((["sku"] + warehouses + ["total", "in_transit"]).map(CSV.Cell.text))
        for sku in skus {
            let cells = warehouses.map { quantities[sku]?[$0] ?? 0 } + [totals[sku] ?? 0, inTransit[sku] ?? 0]
            text += CSV.line([.text(sku)] + cells.map(CSV.Cell.number))
        }
        return text
    }

    /// The header lines (one per warehouse, with its data age), a blank line, then the table.
    func table(local: String?, now: Date = Date()) -> String {
        let width = warehouses.map(\.count).max() ?? 0
        let ages = warehouses.map { warehouse -> String in
            let name = warehouse.padding(toLength: width, withPad: " ", startingAt: 0)
            if warehouse == local { return "\(name)  this node" }
            guard let heard = lastHeard[warehouse].flatMap(Formatting.parse) else { return "\(name)  never heard from" }
            let age = now.timeIntervalSince(heard)
            return "\(name)  last heard \(Formatting.age(age))" + (age > Stock.staleAfterSeconds ? "  (stale)" : "")
        }
        let rows = skus.map { sku in
            [deleted.contains(sku) ? sku + " (deleted)" : sku]
                + warehouses.map { quantities[sku]?[$0].map(Formatting.count) ?? "-" }
                + [Formatting.count(totals[sku] ?? 0), Formatting.count(inTransit[sku] ?? 0)]
        }
        let table = Table(
            headers: ["SKU"] + warehouses + ["TOTAL", "IN TRANSIT"], rows: rows, numeric: Set(1...(warehouses.count + 2)))
        return (ages + ["", table.render()]).joined(separator: "\n")
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, csv
}

struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Reports.", subcommands: [Movements.self])

    struct Movements: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Per SKU and warehouse: opening stock, in, out and closing stock over a period.")
        @Option(help: "Start date (inclusive), e.g. 2026-01-01.") var from: String
        @Option(help: "End date (exclusive), e.g. 2026-02-01.") var to: String
        @Option(help: "table, json or csv.") var format: OutputFormat = .table
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let format = client.json ? .json : format
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.GET, "/v1/reports/movements", query: [("from", from), ("to", to), ("format", format == .csv ? "csv" : "json")])
                switch format {
                case .csv: FileHandle.standardOutput.write(reply.body)
                case .json: try JSONOutput.print(raw: reply.body)
                case .table:
                    let rows = try node.decode([API.ReportRow].self, reply)
                    if rows.isEmpty { return print("no stock held or moved from \(from) to \(to)") }
                    print(Table(
                        headers: ["SKU", "WAREHOUSE", "OPENING", "IN", "OUT", "CLOSING"],
                        rows: rows.map { [$0.sku, $0.warehouse] + [$0.opening, $0.in, $0.out, $0.closing].map(Formatting.count) },
                        numeric: [2, 3, 4, 5]).render())
                }
            }
        }
    }
}

struct Alerts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Restock alerts: warehouses at or below a product's reorder point.")
    @Option(help: "Only this warehouse's alerts.") var warehouse: String?
    @Flag(help: "Times in UTC instead of local time.") var utc = false
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await NodeClient.with(client) { node in
            let reply = try await node.send(.GET, "/v1/alerts", query: [("warehouse", warehouse)])
            if client.json { return try JSONOutput.print(raw: reply.body) }
            let alerts = try node.decode([API.Alert].self, reply)
            if alerts.isEmpty { return print("no alerts" + (warehouse.map { " at \($0)" } ?? "")) }
            print(Table(
                headers: ["SKU", "WAREHOUSE", "ON HAND", "REORDER AT", "SINCE"],
                rows: alerts.map {
                    [$0.sku, $0.warehouse, Formatting.count($0.quantity), Formatting.count($0.reorderPoint), Formatting.time($0.raisedAt, utc: utc)]
                },
                numeric: [2, 3], fixed: [4]).render())
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The node's state: ledger size, version vector, write queue.")
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await NodeClient.with(client) { node in
            let reply = try await node.send(.GET, "/v1/status")
            if client.json { return try JSONOutput.print(raw: reply.body) }
            let status = try node.decode(API.Status.self, reply)
            print("""
                warehouse:  \(status.warehouse) (\(status.name))
                url:        \(status.url)
                version:    \(status.version)
                operations: \(Formatting.count(status.operations))
                alerts:     \(Formatting.count(status.alerts))
                holds:      \(status.versionVector.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " "))
                """)
            if let retired = status.retiredAt {
                print("writes:     refused: this warehouse was retired on \(Formatting.time(retired))")
                print("            (an admin re-admits it from another node: inv peer readmit \(status.warehouse))")
            }
            if status.catchingUp == true {
                print("writes:     refused: restored from a backup, catching up with every active member first")
            }
            if let backlog = status.historyIndexBacklog, backlog > 0 {
                let operations = backlog == 1 ? "operation" : "operations"
                print("history:    indexing up to \(Formatting.count(backlog)) \(operations) (history stays complete, slower meanwhile)")
            }
            if let certificate = status.certificate {
                let left = DateParsing.milliseconds(certificate.notAfter).map {
                    " (\(Int(((Double($0) / 1_000 - Date().timeIntervalSince1970) / 86_400).rounded(.down))) days left)"
                } ?? ""
                print("certificate: serial \(certificate.serial), expires \(certificate.notAfter.prefix(10))\(left)")
            }
            if let peers = status.peers, !peers.isEmpty {
                print(Table(
                    headers: ["PEER", "STATE", "LAST SYNC", "STREAM", "THEY LACK", "WE LACK", "LAG", "LAST ERROR"],
                    rows: peers.map { [
                        $0.warehouse, PeerMessage.state(reachable: $0.reachable, failure: $0.lastFailure), $0.lastSync.map { Formatting.time($0) } ?? "-",
                        PeerMessage.stream($0),
                        $0.operationsBehind.map(Formatting.count) ?? "-", $0.operationsAhead.map(Formatting.count) ?? "-",
                        $0.lagMilliseconds.map { Formatting.delay(milliseconds: $0) } ?? "-",
                        $0.lastError == nil ? "" : PeerMessage.failure($0.lastFailure, url: nil),
                    ] }, numeric: [4, 5, 6]).render())
            }
        }
    }
}
