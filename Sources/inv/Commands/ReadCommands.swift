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

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The movement ledger: who did what, when and why.",
        discussion: """
            The table shows the newest --limit movements (50 on a terminal, all otherwise), oldest first, in local time. \
            With --sku, BALANCE is each warehouse's stock of that SKU after the movement. JSON and CSV keep every \
            field (reason, ids, UTC timestamps); --limit and --reverse apply to the table and JSON.

            History is for browsing: it lists the ledger in timestamp order, and its API cursor is a position in \
            that order. An operation that arrives later from a warehouse that was offline sorts before a saved \
            position, so a job resuming from one never sees it. Jobs that read the ledger incrementally use \
            `inv changes` (GET /v1/changes), which delivers every operation exactly once, late ones included.

            Without --sku or --type, the table also shows, in time order, each retirement and re-admission of a \
            warehouse this node knows of: who decided it and on which node. With --membership, JSON is an object: \
            the movements under "movements" and those decisions under "membership_decisions".
            """)
    @Option(help: "Only this SKU (the table then shows the balance after each movement).") var sku: String?
    @Option(help: "Only this warehouse.") var warehouse: String?
    @Option(help: "Only these types, comma separated: receive, sell, adjust, transfer, accept, product.create, ...") var type: String?
    @Option(help: "From this date or time: 2026-12-02 is local midnight, 2026-12-02T12:00 local time, unless a zone is written (…Z, …+01:00).")
    var since: String?
    @Option(help: "Until this date or time (exclusive), read as --since is.") var until: String?
    @Option(help: "Show only the newest N movements (default: 50 on a terminal, all otherwise).") var limit: Int?
    @Flag(help: "Newest first.") var reverse = false
    @Flag(help: "Times in UTC instead of local time.") var utc = false
    @Option(help: "table, json or csv.") var format: OutputFormat = .table
    @Flag(help: "With JSON: an object holding the movements and the membership decisions (retirements, re-admissions).")
    var membership = false
    @OptionGroup var client: ClientOptions

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
        if membership, !client.json, format != .json { throw ValidationError("--membership goes with --json") }
    }

    /// `inv history --json --membership`: the movements as plain `--json` prints them, and the decisions.
    struct WithMembership: Encodable {
        var movements: [API.Movement]
        var membershipDecisions: [API.MembershipEvent]

        enum CodingKeys: String, CodingKey {
            case movements
            case membershipDecisions = "membership_decisions"
        }
    }

    func run() async throws {
        let since = try self.since.map { try Self.instant($0, option: "--since", utc: utc) }
        let until = try self.until.map { try Self.instant($0, option: "--until", utc: utc) }
        let format = client.json ? .json : format
        try await NodeClient.with(client) { node in
            var sku: String?
            if let typed = self.sku { sku = try await node.resolveSKU(typed) }
            let filters: [(String, String?)] = [("sku", sku), ("warehouse", warehouse), ("type", type), ("since", since), ("until", until)]
            if format == .csv {
                try await node.stream("/v1/history", query: filters + [("format", "csv")]) { chunk in
                    FileHandle.standardOutput.write(Data(chunk.readableBytesView))
                }
                return
            }
            let fetched = try await Self.fetch(node, filters)
            var movements = fetched
            let shown = self.limit ?? (format == .table && Terminal.stdoutIsTerminal ? 50 : nil)
            if let shown, movements.count > shown { movements.removeFirst(movements.count - shown) }
            // Decisions are not operations: a SKU or type filter leaves them out.
            var decisions: [API.MembershipEvent] = []
            if sku == nil, type == nil, format == .table || membership {
                let reply = try await node.send(
                    .GET, "/v1/membership/decisions", query: [("warehouse", warehouse), ("since", since), ("until", until)])
                decisions = try node.decode([API.MembershipEvent].self, reply)
                // Those older than the oldest movement shown are cut as the movements were.
                if fetched.count > movements.count, let first = movements.first {
                    decisions.removeAll { $0.timestamp < first.timestamp }
                }
            }
            if reverse { movements.reverse() }
            if format == .json {
                if membership {
                    return try JSONOutput.print(WithMembership(movements: movements, membershipDecisions: reverse ? decisions.reversed() : decisions))
                }
                return try JSONOutput.print(movements)
            }
            if movements.isEmpty {
                if decisions.isEmpty { return print("no movements") }
                let lines = decisions.map { Self.sentence($0, utc: utc) }
                return print((reverse ? lines.reversed() : lines).joined(separator: "\n"))
            }
            // The balance needs every movement of the SKU from the start, whatever the other filters.
            var balances: [String: Int64] = [:]
            if let sku {
                let onlySKU = filters.allSatisfy { $0.0 == "sku" || $0.1 == nil }
                var running: [String: Int64] = [:]
                let wholeHistory = onlySKU ? fetched : try await Self.fetch(node, [("sku", sku)])
                for movement in wholeHistory {
                    guard let warehouse = movement.warehouse else { continue }
                    running[warehouse, default: 0] += movement.delta
                    balances[movement.ledgerKey] = running[warehouse]
                }
            }
            let rows = movements.map { movement in
                var row = [
                    Formatting.time(movement.timestamp, utc: utc), movement.warehouse ?? "-", movement.type, movement.sku,
                    movement.warehouse == nil ? "" : Formatting.signed(movement.delta),
                ]
                if sku != nil {
                    row.append(balances[movement.ledgerKey].map(Formatting.count) ?? "")
                }
                return row + [movement.user, movement.reference ?? "", movement.counterpartText]
            }
            var headers = ["TIME", "WAREHOUSE", "TYPE", "SKU", "QTY"]
            if sku != nil { headers.append("BALANCE") }
            // TO/FROM: the other warehouse of a transfer or an accept (the movement's counterpart).
            headers += ["USER", "REF", "TO/FROM"]
            let table = Table(headers: headers, rows: rows, numeric: sku != nil ? [4, 5] : [4], fixed: [0]).render()
            print(decisions.isEmpty ? table : Self.interleaving(decisions, into: table, movements: movements, reverse: reverse, utc: utc))
            if fetched.count > movements.count {
                print("(the newest \(Formatting.count(movements.count)) of \(Formatting.count(fetched.count)) movements; --limit N shows more)")
            }
        }
    }

    /// A membership decision as a line of history: its time, then a sentence.
    static func sentence(_ event: API.MembershipEvent, utc: Bool) -> String {
        let verb = event.retired ? "retired" : "re-admitted"
        let how = event.signer == "warehouse" && event.warehouse == event.issuer
            ? "itself (decided on \(event.issuer) with its own key)" : "(decided on \(event.issuer))"
        return "\(Formatting.time(event.timestamp, utc: utc))  admin `\(event.user)` \(verb) warehouse \(event.warehouse) \(how)"
    }

    /// The table's lines with each decision's line before the first movement later than it (after it, newest
    /// first).
    static func interleaving(
        _ decisions: [API.MembershipEvent], into table: String, movements: [API.Movement], reverse: Bool, utc: Bool
    ) -> String {
        let lines = table.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var out = Array(lines.prefix(2))
        var pending = reverse ? Array(decisions.reversed()) : decisions
        // Oldest first: a decision goes before the first movement after it; newest first, before the first before it.
        func due(_ decision: API.MembershipEvent, before movement: API.Movement) -> Bool {
            reverse ? decision.timestamp >= movement.timestamp : decision.timestamp < movement.timestamp
        }
        for (movement, line) in zip(movements, lines.dropFirst(2)) {
            while let next = pending.first, due(next, before: movement) {
                out.append(sentence(next, utc: utc))
                pending.removeFirst()
            }
            out.append(line)
        }
        out += pending.map { sentence($0, utc: utc) }
        return out.joined(separator: "\n")
    }

    /// Every movement the filters select, oldest first.
    static func fetch(_ node: NodeClient, _ filters: [(String, String?)]) async throws -> [API.Movement] {
        var movements: [API.Movement] = []
        var cursor: String?
        repeat {
            let reply = try await node.send(.GET, "/v1/history", query: filters + [("limit", "1000"), ("cursor", cursor)])
            let page = try node.decode(API.HistoryPage.self, reply)
            movements += page.movements
            cursor = page.nextCursor
        } while cursor != nil
        return movements
    }

    /// A date typed by a person, as the API's instant (see `Formatting.instant`).
    static func instant(_ text: String, option: String, utc: Bool) throws -> String {
        guard let instant = Formatting.instant(text, utc: utc) else {
            throw ValidationError("\(option) must be a date like 2026-12-02 or 2026-12-02T12:00 (local time unless a zone is written), got \(text)")
        }
        return instant
    }
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
                    headers: ["PEER", "STATE", "LAST SYNC", "THEY LACK", "WE LACK", "LAST ERROR"],
                    rows: peers.map { [
                        $0.warehouse, PeerMessage.state(reachable: $0.reachable, error: $0.lastError), $0.lastSync.map { Formatting.time($0) } ?? "-",
                        $0.operationsBehind.map(Formatting.count) ?? "-", $0.operationsAhead.map(Formatting.count) ?? "-", $0.lastError.map { PeerMessage.failure($0, url: nil) } ?? "",
                    ] }, numeric: [3, 4]).render())
            }
        }
    }
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "Manage API tokens (admin).", subcommands: [Create.self, List.self, Revoke.self, Rotate.self])

    enum Role: String, ExpressibleByArgument, CaseIterable {
        case admin, staff, reporter

        var tokenRole: TokenRecord.Role {
            switch self {
            case .admin: .admin
            case .staff: .staff
            case .reporter: .reporter
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token; its secret is printed once.")
        @Option(help: "admin, staff or reporter.") var role: Role
        @Option(help: "Who will use it (recorded as the user of their movements).") var name: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.POST, "/v1/tokens", json: API.TokenBody(role: role.tokenRole, name: name))
                if client.json { return try JSONOutput.print(raw: reply.body) }
                let token = try node.decode(API.Token.self, reply)
                print(token.token ?? "")
                FileHandle.standardError.write(Data("created \(token.role) token \(token.id) for \(token.name); the secret above is shown once\n".utf8))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets).")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.GET, "/v1/tokens")
                if client.json { return try JSONOutput.print(raw: reply.body) }
                let tokens = try node.decode([API.Token].self, reply)
                print(Table(
                    headers: ["ID", "NAME", "ROLE", "CREATED", "ROTATED", "REVOKED"],
                    rows: tokens.map {
                        [$0.id, $0.name, $0.role, Formatting.time($0.createdAt), $0.rotatedAt.map { Formatting.time($0) } ?? "", $0.revoked ? "yes" : ""]
                    }).render())
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token: it stops working at once.")
        @Argument(help: "The token id.") var id: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.DELETE, "/v1/tokens/\(id)")
                if client.json { return try JSONOutput.print(raw: reply.body) }
                print("revoked \(id)")
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give a token a new secret (same id and role); the new secret is printed once.",
            discussion: """
                The old secret stops working at once, or after --grace. Rotating the admin token kept in the data \
                directory (admin.token) also rewrites that file, so later commands with --data keep working.
                """)
        @Argument(help: "The token id (the <id> of inv_<id>_<secret>).") var id: String
        // Read unconditionally, so that `--grace -1m` is told it is negative rather than taken for an option.
        @Option(
            name: .customLong("grace"), parsing: .unconditional,
            help: ArgumentHelp("How long the old secret keeps working, e.g. 90s, 10m, 2h, 1d (default: it stops at once; at most 30d).", valueName: "grace"))
        var graceArgument: String?
        @OptionGroup var client: ClientOptions

        /// Parsed; `validate()` has already refused a value that does not parse, with its own message.
        var grace: GraceDuration? { graceArgument.flatMap { try? GraceDuration($0, option: "--grace") } }

        func validate() throws {
            if let graceArgument { _ = try GraceDuration(graceArgument, option: "--grace") }
        }

        func run() async throws {
            // The admin token file of the data directory, if it holds this token: it must follow the rotation.
            let directory = client.dataDirectory
            let storedToken = directory?.readAdminToken()
            let rewritesFile = storedToken.map { $0.split(separator: "_").dropFirst().first == Substring(id) } ?? false
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.POST, "/v1/tokens/\(id)/rotate", json: API.RotationBody(graceSeconds: grace?.seconds))
                let token = try node.decode(API.Token.self, reply)
                var notes: [String] = []
                if rewritesFile, let directory, let secret = token.token {
                    do {
                        try directory.writeAdminToken(secret)
                        notes.append("updated \(directory.adminTokenFile) with the new secret")
                    } catch {
                        throw CLIError("the token was rotated but \(directory.adminTokenFile) could not be updated (\(error)); "
                            + "write the new secret there by hand: \(secret)")
                    }
                }
                if client.json {
                    try JSONOutput.print(raw: reply.body)
                } else {
                    print(token.token ?? "")
                    let until = token.previousValidUntil.map { "keeps working until \($0)" } ?? "no longer works"
                    notes.insert("rotated \(token.role) token \(token.id) (\(token.name)); the secret above is shown once; the old secret \(until)", at: 0)
                }
                for note in notes { FileHandle.standardError.write(Data((note + "\n").utf8)) }
            }
        }
    }
}
