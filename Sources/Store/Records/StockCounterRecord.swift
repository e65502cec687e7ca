import CRDT
import GRDB

/// Rows of `stock_counters`: the PN-counter of one (sku, warehouse), one row per replica entry.
///
/// Beside each entry, `newest_hlc`: the greatest timestamp among the operations merged into it. It is a function of
/// the operations held (a maximum, so neither their order nor a replay changes it), and dates the counter's alert
/// (see ``AlertRecord/decidingTimeSQL``).
///
/// Statements, not a GRDB record type: it is on every write's path (see ``BoundStatement``).
enum StockCounterRecord {
    /// The stock of `(sku, warehouse)` as held here: the counter's value, without reading its entries one by one.
    static func onHand(sku: String, warehouse: String, in db: Database) throws -> Int64 {
        try Int64.fetchOne(
            db.cachedStatement(sql: """
                SELECT coalesce(sum(increments) - sum(decrements), 0) FROM stock_counters WHERE sku = ? AND warehouse = ?
                """), arguments: [sku, warehouse]) ?? 0
    }

    /// The whole counter of `(sku, warehouse)` as held here.
    static func counter(sku: SKU, warehouse: ReplicaID, in db: Database) throws -> PNCounter {
        let statement = try db.cachedStatement(
            sql: "SELECT replica, increments, decrements FROM stock_counters WHERE sku = ? AND warehouse = ?")
        var entries: [ReplicaID: PNCounter.Entry] = [:]
        let rows = try Row.fetchCursor(statement, arguments: [sku.rawValue, warehouse.rawValue])
        while let row = try rows.next() {
            let raw: String = row[0]
            let replica: ReplicaID
            do { replica = try ReplicaID(raw) } catch { throw StoreError.storage("bad replica id in stock: \(raw)") }
            entries[replica] = PNCounter.Entry(increments: UInt64(row[1] as Int64), decrements: UInt64(row[2] as Int64))
        }
        return PNCounter(entries: entries)
    }

    /// Merges one replica's entry into the held one: the pointwise maximum, in one statement; rows that would not
    /// change are not written.
    static let mergeMaxSQL = mergeMaxSQL(rows: 1)

    /// ``mergeMaxSQL`` for `rows` entries at once (`INSERT OR FAIL`: see ``CounterEntryBatch``).
    static func mergeMaxSQL(rows: Int) -> String {
        """
        INSERT\(rows > 1 ? " OR FAIL" : "") INTO stock_counters (sku, warehouse, replica, increments, decrements, newest_hlc)
        VALUES \(Array(repeating: "(?, ?, ?, ?, ?, ?)", count: rows).joined(separator: ", "))
        ON CONFLICT (sku, warehouse, replica) DO UPDATE SET
            increments = max(increments, excluded.increments), decrements = max(decrements, excluded.decrements),
            newest_hlc = max(newest_hlc, excluded.newest_hlc)
        WHERE excluded.increments > increments OR excluded.decrements > decrements OR excluded.newest_hlc > newest_hlc
        """
    }

    /// Merges one replica's entry by pointwise max, with ``mergeMaxSQL`` bound by the caller.
    static func mergeMax(
        _ entry: PNCounter.Entry, newest: HLCTimestamp, sku: SKU, warehouse: ReplicaID, replica: ReplicaID,
        using statement: BoundStatement
    ) throws {
        guard let increments = Int64(exactly: entry.increments), let decrements = Int64(exactly: entry.decrements) else {
            throw StoreError.overflow
        }
        // The texts are bound in place (see ``BoundStatement/Binder/borrowedText(_:)``): a merged page writes a
        // counter entry for most of the counters it touches.
        var (sku, warehouse, replica) = (sku.rawValue, warehouse.rawValue, replica.rawValue)
        try sku.withUTF8 { sku in
            try warehouse.withUTF8 { warehouse in
                try replica.withUTF8 { replica in
                    try statement.execute { row in
                        row.borrowedText(sku)
                        row.borrowedText(warehouse)
                        row.borrowedText(replica)
                        row.integer(increments)
                        row.integer(decrements)
                        row.integer(Int64(bitPattern: newest.rawValue))
                    }
                }
            }
        }
    }
}
