import ArgumentParser
import Foundation
import Logging
import NIOHTTP1
import PostgresNIO
import SyncServer

/// `inv export`: keep an outside database equal to the node's merged state.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mirror the merged ledger and state into another database.", subcommands: [Postgres.self])

    struct Postgres: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Keep PostgreSQL tables equal to the node's merged ledger, stock, products and transfers.",
            discussion: """
                Creates (or upgrades) inv_ledger, inv_stock, inv_products, inv_transfers and inv_export_state in \
                the database, then appends every operation the mirror lacks from the change feed. Each batch and \
                its cursor commit in one PostgreSQL transaction, so a run stopped at any moment resumes with no gap \
                and no duplicate. The password may come from $PGPASSWORD. With --follow it runs until interrupted.
                """)

        @Option(help: "The database: postgres://USER[:PASSWORD]@HOST:PORT/DATABASE.") var url: String
        @Flag(help: "Keep the mirror up to date until interrupted.") var follow = false
        @Option(help: "Operations per PostgreSQL transaction while catching up (1-10000).") var batchSize = 10_000
        @OptionGroup var client: ClientOptions

        static let followWait = 25

        func validate() throws {
            guard (1...10_000).contains(batchSize) else { throw ValidationError("--batch-size must be from 1 to 10000") }
            do { _ = try PostgresURL(url) } catch let error as CLIError { throw ValidationError(error.description) }
        }

        func run() async throws {
            let database = try PostgresURL(url)
            var logger = Logger(label: "inv.export")
            logger.logLevel = .error
            let connection = try await PostgresMirror.connect(database, logger: logger)
            let mirror = PostgresMirror(connection: connection, logger: logger)
            do {
                try await NodeClient.with(client) { node in try await export(to: mirror, from: node) }
                try await connection.close()
            } catch {
                try? await connection.close()
                if error is CLIError { throw error }
                throw CLIError(PostgresMirror.describe(error))
            }
        }

        private func export(to mirror: PostgresMirror, from node: NodeClient) async throws {
            var cursor = try await mirror.prepare()
            let progress = TerminalProgress.isTerminal ? TerminalProgress() : nil
            var written = 0
            // The materialised tables are replaced at the end of each catch-up (the feed says no more), once the
            // ledger rows reach what they reflect, and only the tables the batch touched; a new run refreshes all.
            var dirty = Dirty.all
            var caughtUp = false
            // The next page is read and decoded while this one is written to PostgreSQL: while catching up, and when
            // following (a long-poll), so a write that commits during a PostgreSQL transaction is on its way at once.
            var prefetched: Task<ChangeFeedPage, any Error>?
            defer { prefetched?.cancel() }
            let limit = String(batchSize)
            while true {
                let page: ChangeFeedPage
                if let next = prefetched {
                    page = try await next.value
                    prefetched = nil
                } else {
                    page = try await Self.page(from: node, since: cursor, limit: limit, wait: follow && caughtUp ? Self.followWait : nil)
                }
                if page.more || follow {
                    let since = page.next
                    let wait = page.more ? nil : Self.followWait
                    prefetched = Task { try await Self.page(from: node, since: since, limit: limit, wait: wait) }
                }
                dirty.add(page.touched)
                var refresh: PostgresMirror.Refresh?
                if !page.more && !dirty.isEmpty {
                    refresh = try await Self.materialized(from: node, dirty: dirty)
                    dirty = Dirty()
                }
                if page.count > 0 || refresh != nil || page.next != cursor {
                    try await mirror.apply(page, node: node.target.url, refresh: refresh)
                }
                written += page.count
                cursor = page.next
                caughtUp = !page.more
                if let progress {
                    let waiting = page.waitingFor.isEmpty ? "" : "; waiting for \(page.waitingFor.joined(separator: ", "))"
                    progress.draw(caughtUp ? "mirrored \(written) operations, up to date\(waiting)" : "mirrored \(written) operations...")
                }
                if caughtUp && !follow { break }
            }
            progress?.clear()
            print("mirrored \(written) operations; the mirror is up to date with the node")
        }

        /// A page of the feed as tab-separated text: its rows go to `COPY` as they came.
        static func page(from node: NodeClient, since cursor: String, limit: String, wait: Int?) async throws -> ChangeFeedPage {
            let reply = try await node.send(.GET, "/v1/changes", query: [
                ("since", cursor.isEmpty ? nil : cursor), ("limit", limit), ("wait", wait.map(String.init)), ("format", "tsv"),
            ])
            return try ChangeFeedPage(reply, from: node.target.url)
        }

        /// Which materialised tables a batch changed.
        struct Dirty {
            /// SKUs whose stock rows changed; `nil` once there are too many to read one by one (then all are read).
            var stockSKUs: Set<String>? = []
            var products = false
            var transfers = false
            static let all = Dirty(stockSKUs: nil, products: true, transfers: true)
            /// Beyond this many SKUs, one read of the whole stock is cheaper than reading them by name.
            static let skuReadLimit = 5_000
            var isEmpty: Bool { stockSKUs?.isEmpty == true && !products && !transfers }

            mutating func note(type: String, sku: String) {
                // Deleting or restoring a product changes how its stock rows are flagged or shown.
                stockSKUs?.insert(sku)
                if let count = stockSKUs?.count, count > Self.skuReadLimit { stockSKUs = nil }
                if type.hasPrefix("product.") { products = true }
                // A return moves goods back: the line's `returned` rises and a transfer back goes into transit.
                if type == "transfer" || type == "accept" || type == "return" { transfers = true }
            }

            /// Adds what another batch touched.
            mutating func add(_ other: Dirty) {
                if let skus = other.stockSKUs { stockSKUs?.formUnion(skus) } else { stockSKUs = nil }
                if let count = stockSKUs?.count, count > Self.skuReadLimit { stockSKUs = nil }
                products = products || other.products
                transfers = transfers || other.transfers
            }
        }

        /// The node's materialised state for what the batch touched: the stock rows of its SKUs (or all of them),
        /// and products and transfers from one snapshot when the batch touched them.
        static func materialized(from node: NodeClient, dirty: Dirty) async throws -> PostgresMirror.Refresh {
            var refresh = PostgresMirror.Refresh(stock: [])
            if let skus = dirty.stockSKUs {
                refresh.skus = skus.sorted()
                // By name, as many per request as the node takes.
                var start = 0
                let sorted = skus.sorted()
                while start < sorted.count {
                    let chunk = sorted[start..<min(start + 1_000, sorted.count)].joined(separator: ",")
                    refresh.stock += try node.decode(
                        [API.StockRow].self, try await node.send(.GET, "/v1/stock", query: [("scope", "all"), ("skus", chunk)]))
                    start += 1_000
                }
            } else {
                refresh.stock = try node.decode([API.StockRow].self, try await node.send(.GET, "/v1/stock", query: [("scope", "all")]))
            }
            if dirty.products || dirty.transfers {
                let snapshot = try node.decode(API.Snapshot.self, try await node.send(.GET, "/v1/snapshot"))
                refresh.products = snapshot.products
                refresh.transfers = snapshot.inTransit
            }
            return refresh
        }
    }
}
