import Foundation
import Logging
import NIOCore
import PostgresNIO
import SyncServer

/// The PostgreSQL side of `inv export postgres`: the mirror's schema, and each batch written with its cursor in
/// one transaction.
///
/// Tables (schema version 3, created and upgraded here; see docs/operations.md, "Reporting"):
/// - `inv_ledger`: one row per operation, key `(origin, sequence)`, appended from the change feed;
/// - `inv_stock`: what `inv stock --all --json` answers, row for row (goods in transit as warehouse `in-transit`);
/// - `inv_products`, `inv_transfers` (goods in transit): the node's materialised state, replaced whole;
/// - `inv_export_state`: one row, the schema version and the change-feed cursor the ledger rows reach.
///
/// A batch's ledger rows and the cursor that covers them commit together, so an exporter killed at any moment
/// resumes from the cursor of the last committed batch: no operation is missing, none is written twice (the
/// primary key would refuse it). One exporter writes at a time: it holds a PostgreSQL advisory lock while it runs.
struct PostgresMirror {
    let connection: PostgresConnection
    let logger: Logger

    /// The schema this exporter writes. Each step upgrades from the version before it; steps are never edited once
    /// released, only added.
    static let schemaVersion = 3
    static let migrations: [Int: [String]] = [
        1: [
            """
            CREATE TABLE inv_ledger (
                origin text NOT NULL,
                sequence bigint NOT NULL CHECK (sequence > 0),
                id text NOT NULL,
                type text NOT NULL,
                sku text NOT NULL,
                warehouse text,
                quantity bigint NOT NULL,
                delta bigint NOT NULL,
                "timestamp" timestamptz NOT NULL,
                hlc bigint NOT NULL,
                user_name text NOT NULL,
                reason text,
                reference text,
                transfer_id text,
                counterpart text,
                PRIMARY KEY (origin, sequence)
            )
            """,
            """
            CREATE TABLE inv_stock (
                sku text NOT NULL,
                warehouse text NOT NULL,
                quantity bigint NOT NULL,
                product_deleted boolean NOT NULL,
                PRIMARY KEY (sku, warehouse)
            )
            """,
            """
            CREATE TABLE inv_products (
                sku text PRIMARY KEY,
                name text NOT NULL,
                description text NOT NULL,
                price numeric,
                reorder_point bigint,
                deleted boolean NOT NULL,
                updated_at timestamptz NOT NULL
            )
            """,
            """
            CREATE TABLE inv_transfers (
                id text PRIMARY KEY,
                sku text NOT NULL,
                from_warehouse text NOT NULL,
                to_warehouse text NOT NULL,
                quantity bigint NOT NULL,
                shipped bigint NOT NULL,
                accepted bigint NOT NULL,
                shipped_at timestamptz
            )
            """,
        ],
        // A transfer holds lines keyed by (id, sku); the destination may send goods back (`returned`).
        2: [
            "ALTER TABLE inv_transfers DROP CONSTRAINT inv_transfers_pkey",
            "ALTER TABLE inv_transfers ADD PRIMARY KEY (id, sku)",
            "ALTER TABLE inv_transfers ADD COLUMN returned bigint NOT NULL DEFAULT 0",
        ],
        // A movement names the document it is a line of.
        3: [
            "ALTER TABLE inv_ledger ADD COLUMN document text",
            "CREATE INDEX inv_ledger_document ON inv_ledger (document) WHERE document IS NOT NULL",
        ],
    ]

    /// Any number the exporters agree on: `pg_try_advisory_lock` keys one writer per database.
    static let lockKey: Int64 = 0x696E_765F_6D69_7272  // "inv_mirr"

    static func connect(_ url: PostgresURL, logger: Logger) async throws -> PostgresConnection {
        let configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: url.password, database: url.database, tls: .disable)
        do {
            return try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        } catch {
            throw CLIError("cannot connect to PostgreSQL at \(url.host):\(url.port) as \(url.user): \(Self.describe(error))")
        }
    }

    /// Takes the writer's lock, creates or upgrades the schema, and returns the cursor the mirror has reached.
    func prepare() async throws -> String {
        let locked = try await connection.query("SELECT pg_try_advisory_lock(\(Self.lockKey))", logger: logger)
            .collect().first?.decode(Bool.self) ?? false
        guard locked else { throw CLIError("another inv export is writing to this database; stop it first") }
        try await connection.query("""
            CREATE TABLE IF NOT EXISTS inv_export_state (
                singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                schema_version integer NOT NULL,
                cursor text NOT NULL,
                node text,
                operations bigint NOT NULL DEFAULT 0,
                updated_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
        // Inserted only when missing: an INSERT would take a write lock on the table even when it inserts nothing.
        let rows = try await connection.query("SELECT count(*) FROM inv_export_state", logger: logger).collect()
        if try rows.first?.decode(Int64.self) ?? 0 == 0 {
            try await connection.query("INSERT INTO inv_export_state (schema_version, cursor) VALUES (0, '')", logger: logger)
        }
        var (version, cursor) = try await state()
        guard version <= Self.schemaVersion else {
            throw CLIError("the mirror's schema is version \(version), newer than this inv knows (\(Self.schemaVersion)); upgrade inv")
        }
        while version < Self.schemaVersion {
            let next = version + 1
            try await connection.withTransaction(logger: logger) { connection in
                for statement in Self.migrations[next] ?? [] {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("UPDATE inv_export_state SET schema_version = \(next), updated_at = now()", logger: logger)
            }
            version = next
        }
        (version, cursor) = try await state()
        return cursor
    }

    private func state() async throws -> (Int, String) {
        let rows = try await connection.query("SELECT schema_version, cursor FROM inv_export_state", logger: logger).collect()
        guard let row = rows.first else { throw CLIError("inv_export_state has no row") }
        let (version, cursor) = try row.decode((Int, String).self)
        return (version, cursor)
    }

    /// The materialised state to replace, read from the node after the batch; a `nil` table is kept as it is.
    struct Refresh {
        /// Stock rows: of every SKU (`skus` nil), or of these SKUs only (their rows replace theirs).
        var stock: [API.StockRow]
        var skus: [String]?
        var products: [API.Product]?
        var transfers: [API.Transfer]?
    }

    /// `inv_ledger`'s columns in the order of the change feed's (``TabSeparatedText/changeColumns``).
    static let ledgerColumns = TabSeparatedText.changeColumns.map { $0 == "user" ? "user_name" : $0 }

    /// Appends the page's entries to `inv_ledger`, replaces the materialised tables when `refresh` is given, and
    /// records the page's `next`: all in one transaction.
    func apply(_ page: ChangeFeedPage, node: String, refresh: Refresh?) async throws {
        try await connection.withTransaction(logger: logger) { connection in
            // The feed's rows are in COPY's text format already, and PostgreSQL checks every field as it reads it.
            if page.count > 0 { try await copy(page.rows, into: "inv_ledger", columns: Self.ledgerColumns, on: connection) }
            if let refresh {
                if let skus = refresh.skus {
                    try await connection.query("DELETE FROM inv_stock WHERE sku = ANY(\(skus))", logger: logger)
                } else {
                    try await connection.query("DELETE FROM inv_stock", logger: logger)
                }
                var stock = TabSeparatedText(capacity: refresh.stock.count * 48)
                for row in refresh.stock { stock.row([row.sku, row.warehouse, String(row.quantity), row.productDeleted ? "t" : "f"]) }
                try await copy(stock.buffer, into: "inv_stock", columns: ["sku", "warehouse", "quantity", "product_deleted"], on: connection)
            }
            if let refreshed = refresh?.products {
                try await connection.query("DELETE FROM inv_products", logger: logger)
                var products = TabSeparatedText(capacity: refreshed.count * 96)
                for p in refreshed {
                    products.row([p.sku, p.name, p.description, p.price, p.reorderPoint.map(String.init), p.deleted ? "t" : "f", p.updatedAt])
                }
                try await copy(products.buffer, into: "inv_products", columns: [
                    "sku", "name", "description", "price", "reorder_point", "deleted", "updated_at",
                ], on: connection)
            }
            if let refreshed = refresh?.transfers {
                try await connection.query("DELETE FROM inv_transfers", logger: logger)
                var transfers = TabSeparatedText(capacity: refreshed.count * 96)
                for t in refreshed {
                    transfers.row([
                        t.id, t.sku, t.from, t.to, String(t.quantity), String(t.shipped), String(t.accepted), t.shippedAt,
                        String(t.returned ?? 0),
                    ])
                }
                try await copy(transfers.buffer, into: "inv_transfers", columns: [
                    "id", "sku", "from_warehouse", "to_warehouse", "quantity", "shipped", "accepted", "shipped_at", "returned",
                ], on: connection)
            }
            let count = Int64(page.count)
            try await connection.query("""
                UPDATE inv_export_state SET cursor = \(page.next), node = \(node), operations = operations + \(count), updated_at = now()
                """, logger: logger)
        }
    }

    private func copy(_ rows: ByteBuffer, into table: String, columns: [String], on connection: PostgresConnection) async throws {
        guard rows.readableBytes > 0 else { return }
        try await connection.copyFrom(table: table, columns: columns, logger: logger) { writer in
            try await writer.write(rows)
        }
    }

    /// PostgreSQL's own message for a server error, not the Swift type's dump.
    static func describe(_ error: any Error) -> String {
        if let error = error as? PostgresTransactionError {
            return describe(error.closureError ?? error.commitError ?? error.beginError ?? error.rollbackError ?? CLIError("transaction failed"))
        }
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            return "\(error.code)"
        }
        return String(describing: error)
    }
}
