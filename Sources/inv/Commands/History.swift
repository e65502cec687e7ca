import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import Store
import SyncServer


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
