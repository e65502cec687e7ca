import CRDT
import GRDB

/// The ledger's per-SKU history index: which operations touch a SKU, in `(hlc, origin, sequence)` order.
///
/// Kept by the node in `sku_index` rather than as a SQLite index, so that merges can defer it. SQLite updated its
/// index on `(sku, hlc)` row by row; a catch-up page of 20,000 operations spread over every SKU dirtied nearly every
/// leaf of it, so each commit rewrote most of the index into the write-ahead log (1.6 KB written per merged
/// operation). Now:
/// - a merge records, per origin, the range of sequences it wrote in `sku_index_backlog`, and a transaction of local
///   commands the range of this node's sequences it wrote;
/// - the writer indexes the backlog when it has nothing else to do, or once the backlog passes a limit, in batches
///   sorted by SKU (``indexBacklog(limit:in:)``), each batch in one transaction that also shrinks the backlog.
///
/// Invariant: every ledger operation is in `sku_index`, or inside a backlog range, or both (a range may also cover
/// operations indexed already, or not held: readers deduplicate, and indexing ignores both). So a reader's snapshot
/// finds every operation of a SKU by reading the index and the backlog ranges (``dotsOfSKU``).
enum SKUHistoryIndex {
    /// Records that `origin`'s operations `first...last` (those the ledger holds) are not indexed yet.
    static func deferIndexing(origin: ReplicaID, first: UInt64, last: UInt64, in db: Database) throws {
        guard let first = Int64(exactly: first), let last = Int64(exactly: last), first <= last else { throw StoreError.overflow }
        try BoundStatement(db, sql: """
            INSERT INTO sku_index_backlog (origin, first_sequence, last_sequence) VALUES (?, ?, ?)
            ON CONFLICT (origin, first_sequence) DO UPDATE SET last_sequence = max(last_sequence, excluded.last_sequence)
            """).execute { row in
            row.text(origin.rawValue)
            row.integer(first)
            row.integer(last)
        }
    }

    /// Indexes backlog ranges, in (origin, sequence) order, until about `limit` sequences are covered.
    ///
    /// - Returns: whether backlog remains.
    static func indexBacklog(limit: Int, in db: Database) throws -> Bool {
        var budget = Int64(limit)
        let ranges = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT origin, first_sequence, last_sequence FROM sku_index_backlog ORDER BY origin, first_sequence LIMIT 1000
            """))
        let index = try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO sku_index (sku, hlc, origin, sequence)
            SELECT sku, hlc, origin, sequence FROM operations WHERE origin = ? AND sequence BETWEEN ? AND ? ORDER BY sku, hlc
            """)
        let remove = try db.cachedStatement(sql: "DELETE FROM sku_index_backlog WHERE origin = ? AND first_sequence = ?")
        for range in ranges {
            guard budget > 0 else { return true }
            let origin: String = range[0]
            let first: Int64 = range[1]
            let last: Int64 = range[2]
            let end = min(last, first + budget - 1)
            try index.execute(arguments: [origin, first, end])
            try remove.execute(arguments: [origin, first])
            if end < last {
                // The rest of the range goes back under its new first sequence (merged with any range starting there).
                try deferIndexing(origin: ReplicaID(origin), first: UInt64(end + 1), last: UInt64(last), in: db)
            }
            budget -= end - first + 1
        }
        return try hasBacklog(in: db)
    }

    static func hasBacklog(in db: Database) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM sku_index_backlog)")) ?? false
    }

    /// An upper bound of the operations written or merged but not indexed yet (ranges may cover operations not held).
    static func backlog(in db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT coalesce(sum(last_sequence - first_sequence + 1), 0) FROM sku_index_backlog") ?? 0
    }

    /// A query of the dots `(origin, sequence)` of every operation of the SKU bound to `:sku`, indexed or not.
    static let dotsOfSKU = """
        SELECT origin, sequence FROM sku_index WHERE sku = :sku
        UNION
        SELECT o.origin, o.sequence FROM \(backlogOperations) WHERE o.sku = :sku
        """

    /// The ledger operations `o` inside backlog ranges, as a `FROM` clause. `CROSS JOIN` keeps the backlog the
    /// outer loop (each range a seek into the ledger's key): left to itself, SQLite may scan the whole ledger in
    /// timestamp order and test each operation against the backlog.
    static let backlogOperations = """
        sku_index_backlog b CROSS JOIN operations o
            ON o.origin = b.origin AND o.sequence BETWEEN b.first_sequence AND b.last_sequence
        """
}
