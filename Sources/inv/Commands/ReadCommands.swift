import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import SyncServer

struct Stock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stock of this warehouse, or with --all of every warehouse plus goods in transit.")
    @Argument(help: "Only this SKU.") var sku: String?
    @Flag(help: "Every warehouse known here, plus in-transit totals.") var all = false
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await NodeClient.with(client) { node in
            let reply = try await node.send(.GET, "/v1/stock", query: [("scope", all ? "all" : "local"), ("sku", sku)])
            if client.json { return try JSONOutput.print(raw: reply.body) }
            let rows = try node.decode([API.StockRow].self, reply)
            if rows.isEmpty { return print("no stock" + (sku.map { " of \($0)" } ?? "")) }
            print(Table(
                headers: ["SKU", "WAREHOUSE", "QUANTITY", ""],
                rows: rows.map { [$0.sku, $0.warehouse, String($0.quantity), $0.productDeleted ? "(product deleted)" : ""] },
                numeric: [2]).render())
        }
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, csv
}

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The movement ledger: who did what, when and why.",
        discussion: """
            History is for browsing: it lists the ledger in timestamp order, and its API cursor is a position in \
            that order. An operation that arrives later from a warehouse that was offline sorts before a saved \
            position, so a job resuming from one never sees it. Jobs that read the ledger incrementally use \
            `inv changes` (GET /v1/changes), which delivers every operation exactly once, late ones included.
            """)
    @Option(help: "Only this SKU.") var sku: String?
    @Option(help: "Only this warehouse.") var warehouse: String?
    @Option(help: "Only these types, comma separated: receive, sell, adjust, transfer, accept, product.create, ...") var type: String?
    @Option(help: "From this date or time (e.g. 2026-01-31 or 2026-01-31T12:00:00Z).") var since: String?
    @Option(help: "Until this date or time (exclusive).") var until: String?
    @Option(help: "table, json or csv.") var format: OutputFormat = .table
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let filters: [(String, String?)] = [("sku", sku), ("warehouse", warehouse), ("type", type), ("since", since), ("until", until)]
        let format = client.json ? .json : format
        try await NodeClient.with(client) { node in
            if format == .csv {
                try await node.stream("/v1/history", query: filters + [("format", "csv")]) { chunk in
                    FileHandle.standardOutput.write(Data(chunk.readableBytesView))
                }
                return
            }
            var movements: [API.Movement] = []
            var cursor: String?
            repeat {
                let reply = try await node.send(.GET, "/v1/history", query: filters + [("limit", "1000"), ("cursor", cursor)])
                let page = try node.decode(API.HistoryPage.self, reply)
                movements += page.movements
                cursor = page.nextCursor
            } while cursor != nil
            if format == .json { return try JSONOutput.print(movements) }
            if movements.isEmpty { return print("no movements") }
            print(Table(headers: API.Movement.tableHeaders, rows: movements.map(\.tableRow), numeric: [4]).render())
        }
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
                        rows: rows.map { [$0.sku, $0.warehouse, String($0.opening), String($0.in), String($0.out), String($0.closing)] },
                        numeric: [2, 3, 4, 5]).render())
                }
            }
        }
    }
}

struct Alerts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Restock alerts: warehouses at or below a product's reorder point.")
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await NodeClient.with(client) { node in
            let reply = try await node.send(.GET, "/v1/alerts")
            if client.json { return try JSONOutput.print(raw: reply.body) }
            let alerts = try node.decode([API.Alert].self, reply)
            if alerts.isEmpty { return print("no alerts") }
            print(Table(
                headers: ["SKU", "WAREHOUSE", "QUANTITY", "REORDER AT", "SINCE"],
                rows: alerts.map { [$0.sku, $0.warehouse, String($0.quantity), String($0.reorderPoint), $0.raisedAt] },
                numeric: [2, 3]).render())
        }
    }
}

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print live events (movements, product changes, alerts) until interrupted.")
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await NodeClient.with(client) { node in
            var pending = ""
            var event = "message"
            try await node.stream("/v1/events") { chunk in
                pending += String(decoding: chunk.readableBytesView, as: UTF8.self)
                while let newline = pending.firstIndex(of: "\n") {
                    let line = String(pending[..<newline])
                    pending = String(pending[pending.index(after: newline)...])
                    if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                    if line.hasPrefix("data: ") {
                        let data = String(line.dropFirst(6))
                        let output = client.json ? "{\"event\":\"\(event)\",\"data\":\(data)}" : "\(event): \(data)"
                        FileHandle.standardOutput.write(Data((output + "\n").utf8))
                        event = "message"
                    }
                }
            }
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
            struct StatusView: Decodable {
                var warehouse: String
                var name: String
                var url: String
                var version: String
                var operations: Int
                var version_vector: [String: UInt64]
                var alerts: Int
                var peers: [PeerSyncer.PeerStatus]?
                var certificate: API.Certificate?
                var catching_up: Bool?
                var history_index_backlog: Int?
            }
            let status = try node.decode(StatusView.self, reply)
            print("""
                warehouse:  \(status.warehouse) (\(status.name))
                url:        \(status.url)
                version:    \(status.version)
                operations: \(status.operations)
                alerts:     \(status.alerts)
                holds:      \(status.version_vector.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " "))
                """)
            if status.catching_up == true {
                print("writes:     refused: restored from a backup, catching up with every active member first")
            }
            if let backlog = status.history_index_backlog, backlog > 0 {
                let operations = backlog == 1 ? "operation" : "operations"
                print("history:    indexing up to \(backlog) \(operations) (history stays complete, slower meanwhile)")
            }
            if let certificate = status.certificate {
                let left = DateParsing.milliseconds(certificate.notAfter).map {
                    " (\(Int(((Double($0) / 1_000 - Date().timeIntervalSince1970) / 86_400).rounded(.down))) days left)"
                } ?? ""
                print("certificate: serial \(certificate.serial), expires \(certificate.notAfter)\(left)")
            }
            if let peers = status.peers, !peers.isEmpty {
                print(Table(
                    headers: ["PEER", "REACHABLE", "LAST SYNC", "THEY LACK", "WE LACK", "LAST ERROR"],
                    rows: peers.map { [
                        $0.warehouse, $0.reachable ? "yes" : "no", $0.lastSync ?? "-", $0.operationsBehind.map(String.init) ?? "-",
                        $0.operationsAhead.map(String.init) ?? "-", $0.lastError ?? "",
                    ] }, numeric: [3, 4]).render())
            }
        }
    }
}

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "Manage API tokens (admin).", subcommands: [Create.self, List.self, Revoke.self, Rotate.self])

    enum Role: String, ExpressibleByArgument, CaseIterable { case admin, staff, reporter }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token; its secret is printed once.")
        @Option(help: "admin, staff or reporter.") var role: Role
        @Option(help: "Who will use it (recorded as the user of their movements).") var name: String?
        @OptionGroup var client: ClientOptions

        func run() async throws {
            struct Body: Encodable {
                var role: String
                var name: String?
            }
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.POST, "/v1/tokens", json: Body(role: role.rawValue, name: name))
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
                    rows: tokens.map { [$0.id, $0.name, $0.role, $0.createdAt, $0.rotatedAt ?? "", $0.revoked ? "yes" : ""] }).render())
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
            struct Body: Encodable {
                var grace_seconds: Int64?
            }
            // The admin token file of the data directory, if it holds this token: it must follow the rotation.
            let directory = client.dataDirectory
            let storedToken = directory?.readAdminToken()
            let rewritesFile = storedToken.map { $0.split(separator: "_").dropFirst().first == Substring(id) } ?? false
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.POST, "/v1/tokens/\(id)/rotate", json: Body(grace_seconds: grace?.seconds))
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
