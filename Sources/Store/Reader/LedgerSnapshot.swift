import CRDT
import GRDB

/// A consistent cut of the node's merged state: every read sees the same single read transaction, however many
/// pages a caller streams, while the writer keeps committing.
///
/// Two nodes holding the same set of operations (equal version vectors) read identical snapshots.
public final class LedgerSnapshot: Sendable {
    private let snapshot: DatabaseSnapshot

    init(pool: DatabasePool) throws { snapshot = try pool.makeSnapshot() }

    public func versionVector() throws -> VersionVector { try snapshot.read { try VersionVectorRecord.load($0) } }

    /// Every product ever created (deleted ones flagged), by SKU, after `after`.
    public func products(after: String?, limit: Int) throws -> [ProductState] {
        try snapshot.read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM products WHERE name IS NOT NULL AND sku > ? ORDER BY sku LIMIT ?
                """, arguments: [after ?? "", limit]).map { row in
                ProductState(sku: try SKU(row["sku"] as String), metadata: try ProductRecord.metadata(from: row))
            }
        }
    }

    /// Stock per (sku, warehouse), after the given key.
    public func stock(after: (sku: String, warehouse: String)?, limit: Int) throws -> [StockRow] {
        try snapshot.read { db in
            try Row.fetchAll(db, sql: """
                SELECT s.sku AS sku, s.warehouse AS warehouse, sum(s.increments) - sum(s.decrements) AS quantity,
                       coalesce(p.deleted, 0) AS deleted
                FROM stock_counters s LEFT JOIN products p ON p.sku = s.sku
                WHERE (s.sku, s.warehouse) > (?, ?)
                GROUP BY s.sku, s.warehouse ORDER BY s.sku, s.warehouse LIMIT ?
                """, arguments: [after?.sku ?? "", after?.warehouse ?? "", limit]).map { row in
                StockRow(sku: row["sku"], warehouse: row["warehouse"], quantity: row["quantity"], productDeleted: row["deleted"])
            }
        }
    }

    /// Transfer lines with goods still in transit, by (id, SKU), after the line `after`.
    public func inTransit(after: (id: String, sku: String)?, limit: Int) throws -> [TransferRecord] {
        try snapshot.read { db in
            try TransferRecord.fetchAll(db, sql: """
                SELECT * FROM transfers WHERE shipped > accepted + returned AND (id, sku) > (?, ?) ORDER BY id, sku LIMIT ?
                """, arguments: [after?.id ?? "", after?.sku ?? "", limit])
        }
    }
}

extension LedgerReader {
    /// Opens a consistent snapshot (one read transaction) of the merged state.
    public func snapshot() throws -> LedgerSnapshot { try LedgerSnapshot(pool: pool) }

    /// The conflicts found while merging, then the live products whose SKUs differ only by case.
    public func conflicts() throws -> [ConflictRecord] {
        try read { db in
            let stored = try ConflictRecord.fetchAll(db, sql: "SELECT * FROM conflicts ORDER BY id")
            // Grouped first (one pass over the products), so the pairs are looked up only for the SKUs that clash.
            let clashes = try Row.fetchAll(db, sql: """
                WITH live AS (SELECT sku, name_replica, name_hlc FROM products WHERE name IS NOT NULL AND deleted = 0),
                     clashing AS (SELECT lower(sku) AS folded FROM live GROUP BY lower(sku) HAVING count(*) > 1)
                SELECT a.sku, a.name_replica, a.name_hlc, b.sku, b.name_replica, b.name_hlc
                FROM clashing c JOIN live a ON lower(a.sku) = c.folded JOIN live b ON lower(b.sku) = c.folded AND a.sku < b.sku
                ORDER BY a.sku, b.sku
                """).map { row in
                ConflictRecord(
                    kind: .skuCase, sku: row[0], field: "sku", kept: row[0], keptOrigin: row[1] ?? "",
                    keptAt: HLCTimestamp(rawValue: UInt64(row[2] as Int64? ?? 0)), overwritten: row[3], overwrittenOrigin: row[4] ?? "",
                    overwrittenAt: HLCTimestamp(rawValue: UInt64(row[5] as Int64? ?? 0)))
            }
            let barcodes = try Row.fetchAll(db, sql: """
                WITH live AS (SELECT b.barcode, p.sku, p.barcodes_replica, p.barcodes_hlc FROM product_barcodes b
                              JOIN products p ON p.sku = b.sku WHERE p.name IS NOT NULL AND p.deleted = 0),
                     clashing AS (SELECT barcode FROM live GROUP BY barcode HAVING count(*) > 1)
                SELECT c.barcode, a.sku, a.barcodes_replica, a.barcodes_hlc, b.sku, b.barcodes_replica, b.barcodes_hlc
                FROM clashing c JOIN live a ON a.barcode = c.barcode JOIN live b ON b.barcode = c.barcode AND a.sku < b.sku
                ORDER BY c.barcode, a.sku, b.sku
                """).map { row in
                ConflictRecord(
                    kind: .barcode, sku: row[1], field: row[0], kept: row[1], keptOrigin: row[2] ?? "",
                    keptAt: HLCTimestamp(rawValue: UInt64(row[3] as Int64? ?? 0)), overwritten: row[4], overwrittenOrigin: row[5] ?? "",
                    overwrittenAt: HLCTimestamp(rawValue: UInt64(row[6] as Int64? ?? 0)))
            }
            return stored + clashes + barcodes
        }
    }

    /// The timestamp of the newest operation held from each origin.
    public func lastHeard() throws -> [String: HLCTimestamp] {
        try read { db in try Self.lastHeard(in: db) }
    }

    static func lastHeard(in db: Database) throws -> [String: HLCTimestamp] {
        var result: [String: HLCTimestamp] = [:]
        // One seek into the ledger per origin. As a join, SQLite's planner (with no statistics) scanned the whole
        // ledger and looked each row up in the version vector: a million-operation node spent about 400 ms on it
        // for every `GET /v1/stock?scope=all`.
        for row in try Row.fetchAll(db.cachedStatement(sql: """
            SELECT v.origin, (SELECT ledger_hlc(l.body) FROM ledger l WHERE l.origin = v.origin AND l.sequence = v.sequence)
            FROM version_vector v
            """)) {
            guard let hlc = row[1] as Int64? else { continue }
            result[row[0]] = HLCTimestamp(rawValue: UInt64(hlc))
        }
        return result
    }
}
