import CRDT
import GRDB

/// The ledger's secondary indexes, kept by the node in tables rather than as SQLite indexes so that merges can
/// defer them:
/// - `sku_index`: which operations touch a SKU, in `(hlc, origin, sequence)` order (history by SKU, delete conflicts);
/// - `hlc_index`: every operation in `(hlc, origin, sequence)` order (history, and an operation by its timestamp);
/// - `movement_index`: an operation by its movement id (`inv history` lookups, idempotent local writes).
///
/// SQLite updates its indexes row by row. A catch-up page spreads over every SKU, so each commit dirtied nearly
/// every leaf of the SKU index and rewrote most of it into the write-ahead log (1.6 KB written per merged
/// operation); the timestamp and movement-id indexes, appended to in rough order, still cost a catching-up node
/// about a quarter of its CPU per merged operation. Now:
/// - a merge records, per origin, the range of sequences it wrote in `sku_index_backlog` (the backlog of all three
///   indexes, named after the first), and a transaction of local commands the range of this node's sequences it
///   wrote;
/// - the writer indexes the backlog when it has nothing else to do, or once the backlog passes a limit, in batches
///   sorted by each index's key (``indexBacklog(limit:in:)``), each batch in one transaction that also shrinks the
///   backlog;
/// - this node's own movements are put in `movement_index` as they are written (``indexAtOnce(_:receiver:in:)``): a
///   local write asks for its movement id before anything else, and must never miss one;
/// - product operations (few beside movements) are put in `hlc_index` as they are written or merged
///   (``indexAtOnce(_:receiver:in:)``): the conflict checks look one up by origin and timestamp for many merged
///   operations, and must not scan the backlog for each.
///
/// Invariant: every ledger operation is in each index, or inside a backlog range, or both (a range may also cover
/// operations indexed already, or not held: readers deduplicate, and indexing ignores both). So a reader's snapshot
/// finds every operation by reading an index and the backlog ranges (``backlogOperations``).
///
/// Statements, not a GRDB record type: it is on every write's path (see ``BoundStatement``).
enum LedgerIndexes {
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
        // Each index's rows inserted in its own key order: the batch then touches each leaf page once.
        let indexes = try [
            db.cachedStatement(sql: """
                INSERT OR IGNORE INTO sku_index (sku, hlc, origin, sequence)
                SELECT sku, hlc, origin, sequence FROM operations WHERE origin = ?1 AND sequence BETWEEN ?2 AND ?3 ORDER BY sku, hlc
                """),
            db.cachedStatement(sql: """
                INSERT OR IGNORE INTO hlc_index (hlc, origin, sequence)
                SELECT hlc, origin, sequence FROM operations WHERE origin = ?1 AND sequence BETWEEN ?2 AND ?3 ORDER BY hlc
                """),
            db.cachedStatement(sql: """
                INSERT OR IGNORE INTO movement_index (movement_id, origin, sequence)
                SELECT movement_id, origin, sequence FROM operations
                WHERE origin = ?1 AND sequence BETWEEN ?2 AND ?3 AND movement_id IS NOT NULL ORDER BY movement_id
                """),
        ]
        let remove = try db.cachedStatement(sql: "DELETE FROM sku_index_backlog WHERE origin = ? AND first_sequence = ?")
        for range in ranges {
            guard budget > 0 else { return true }
            let origin: String = range[0]
            let first: Int64 = range[1]
            let last: Int64 = range[2]
            let end = min(last, first + budget - 1)
            for index in indexes { try index.execute(arguments: [origin, first, end]) }
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

    /// Puts into the indexes at once what must not wait for the backlog (its ledger row is written in the same
    /// transaction): a movement of this node (`receiver`) in `movement_index`, so ``ownMovementSQL`` finds it
    /// without reading the backlog; a product operation in `hlc_index`, so ``operationAtSQL`` finds it with one
    /// seek. Everything else waits for ``indexBacklog(limit:in:)``.
    static func indexAtOnce(_ op: LedgerOperation, receiver: ReplicaID, in db: Database) throws {
        if op.origin == receiver, let movementID = op.movementID {
            try BoundStatement(db, sql: "INSERT OR IGNORE INTO movement_index (movement_id, origin, sequence) VALUES (?, ?, ?)")
                .execute { row in
                    row.text(movementID)
                    row.text(op.origin.rawValue)
                    row.integer(Int64(exactly: op.sequence))
                }
        }
        if !op.kind.isMovement {
            try BoundStatement(db, sql: "INSERT OR IGNORE INTO hlc_index (hlc, origin, sequence) VALUES (?, ?, ?)").execute { row in
                row.integer(Int64(exactly: op.timestamp.rawValue))
                row.text(op.origin.rawValue)
                row.integer(Int64(exactly: op.sequence))
            }
        }
    }

    /// The ledger row of this node's movement bound to `?1` at origin `?2` (this node): always in the index.
    static let ownMovementSQL = """
        SELECT \(OperationRecord.selectColumns(of: "o")) FROM movement_index m
            CROSS JOIN operations o ON o.origin = m.origin AND o.sequence = m.sequence
        WHERE m.movement_id = ?1 AND m.origin = ?2
        """

    /// The ledger row of the movement bound to `?1`, from any origin: the index first, then the backlog.
    static let movementSQL = """
        SELECT * FROM (
            SELECT \(OperationRecord.selectColumns(of: "o")) FROM movement_index m
                CROSS JOIN operations o ON o.origin = m.origin AND o.sequence = m.sequence
            WHERE m.movement_id = ?1
            UNION ALL
            SELECT \(OperationRecord.selectColumns(of: "o")) FROM \(backlogOperations) WHERE o.movement_id = ?1
        ) LIMIT 1
        """

    /// The sequence and causal context of the operation of origin `?1` with timestamp `?2`: the index first, then
    /// the backlog. (An origin issues each timestamp once.) The conflict checks ask only for product operations,
    /// which are always in the index (``indexAtOnce(_:receiver:in:)``).
    static let operationAtSQL = """
        SELECT * FROM (
            SELECT o.sequence, o.context FROM hlc_index i
                CROSS JOIN operations o ON o.origin = i.origin AND o.sequence = i.sequence
            WHERE i.hlc = ?2 AND i.origin = ?1
            UNION ALL
            SELECT o.sequence, o.context FROM \(backlogOperations) WHERE b.origin = ?1 AND o.hlc = ?2
        ) LIMIT 1
        """

    /// The highest timestamp in the ledger.
    static func highestTimestamp(in db: Database) throws -> UInt64 {
        let highest = try Int64.fetchOne(db, sql: """
            SELECT max(coalesce((SELECT max(hlc) FROM hlc_index), 0), coalesce((SELECT max(o.hlc) FROM \(backlogOperations)), 0))
            """) ?? 0
        return UInt64(highest)
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
