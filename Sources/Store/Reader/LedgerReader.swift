import CRDT
import Foundation
import GRDB

/// Read-only queries over the node's database. Reads use the pool's WAL readers and never wait on the writer.
/// What the stock of every warehouse looks like from here (see ``LedgerReader/stockOverview(sku:skus:)``).
public struct StockOverview: Sendable {
    public var rows: [StockRow]
    public var inTransit: [(sku: String, to: String, quantity: Int64)]
    public var lastHeard: [String: HLCTimestamp]
}

public struct LedgerReader: Sendable {
    let pool: DatabasePool

    public init(pool: DatabasePool) { self.pool = pool }

    /// Runs `body` in one read transaction on one of the pool's readers: every statement of it sees the same
    /// snapshot. Each of the reader's queries below goes through here.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.unsafeRead { db in try PreparedTransaction.deferred(db) { try body(db) } }
    }

    public func product(_ sku: SKU) throws -> ProductState? {
        try read { db in
            guard let metadata = try ProductRecord.metadata(sku: sku, in: db), metadata.name != nil else { return nil }
            return ProductState(sku: sku, metadata: metadata)
        }
    }

    public func products(includeDeleted: Bool = false) throws -> [ProductState] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM products WHERE name IS NOT NULL ORDER BY sku").compactMap { row in
                let state = ProductState(sku: try SKU(row["sku"] as String), metadata: try ProductRecord.metadata(from: row))
                return includeDeleted || !state.deleted ? state : nil
            }
        }
    }

    /// Stock of one warehouse, one row per SKU it has held or whose product is live.
    public func stock(warehouse: String, sku: String? = nil) throws -> [StockRow] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT p.sku AS sku, coalesce(s.quantity, 0) AS quantity, p.deleted AS deleted
                FROM products p
                LEFT JOIN (SELECT sku, sum(increments) - sum(decrements) AS quantity FROM stock_counters
                           WHERE warehouse = :w GROUP BY sku) s ON s.sku = p.sku
                WHERE p.name IS NOT NULL AND (p.deleted = 0 OR coalesce(s.quantity, 0) <> 0)
                  AND (:sku IS NULL OR p.sku = :sku)
                ORDER BY p.sku
                """, arguments: ["w": warehouse, "sku": sku]).map { row in
                StockRow(sku: row["sku"], warehouse: warehouse, quantity: row["quantity"], productDeleted: row["deleted"])
            }
        }
    }

    /// One warehouse's stock of one SKU, as held now.
    ///
    /// Read by an event stream for a movement committed before it subscribed, so without a transaction around it:
    /// one statement reads one snapshot of the database by itself, and a transaction's `BEGIN` and `COMMIT` would
    /// be two more statements for that one.
    public func onHand(sku: String, warehouse: String) throws -> Int64 {
        try pool.unsafeRead { db in try StockCounterRecord.onHand(sku: sku, warehouse: warehouse, in: db) }
    }

    /// Goods in transit per SKU and destination warehouse, in (SKU, destination) order.
    public func inTransitByDestination(sku: String? = nil) throws -> [(sku: String, to: String, quantity: Int64)] {
        try read { db in try Self.inTransitByDestination(sku: sku, in: db) }
    }

    static func inTransitByDestination(sku: String?, in db: Database) throws -> [(sku: String, to: String, quantity: Int64)] {
        try Row.fetchAll(db, sql: """
            SELECT sku, to_warehouse AS destination, sum(shipped - accepted - returned) AS quantity FROM transfers
            WHERE shipped > accepted + returned AND (:sku IS NULL OR sku = :sku)
            GROUP BY sku, to_warehouse ORDER BY sku, to_warehouse
            """, arguments: ["sku": sku]).map { row in (sku: row["sku"], to: row["destination"], quantity: row["quantity"]) }
    }

    /// What `GET /v1/stock?scope=all` shows, from one read transaction: the rows of ``stockAll(sku:skus:)``, goods
    /// in transit per destination, and when each origin was last heard from (``lastHeard()``). One read, not three:
    /// each read is a hop to a reader connection's queue, which a busy machine makes costly.
    public func stockOverview(sku: String? = nil, skus: [String]? = nil) throws -> StockOverview {
        let list = try skus.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        return try read { db in
            StockOverview(
                rows: try Self.stockAll(sku: sku, list: list, in: db),
                inTransit: try Self.inTransitByDestination(sku: sku, in: db),
                lastHeard: try Self.lastHeard(in: db))
        }
    }

    /// Stock of every warehouse known here, then goods in transit per SKU (warehouse `in-transit`): of every SKU,
    /// of `sku` only, or of the SKUs in `skus` only.
    public func stockAll(sku: String? = nil, skus: [String]? = nil) throws -> [StockRow] {
        // A list of SKUs travels as one JSON array, read by SQLite's `json_each`.
        let list = try skus.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        return try read { db in try Self.stockAll(sku: sku, list: list, in: db) }
    }

    /// `list`: the SKUs as a JSON array, read by SQLite's `json_each`.
    static func stockAll(sku: String?, list: String?, in db: Database) throws -> [StockRow] {
        // Each filter is written only when given: `(:sku IS NULL OR s.sku = :sku)` would keep SQLite from seeking
        // the counters by SKU, and every request would read them all.
        func filter(_ table: String) -> String {
            var terms: [String] = []
            if sku != nil { terms.append("\(table).sku = :sku") }
            if list != nil { terms.append("\(table).sku IN (SELECT value FROM json_each(:skus))") }
            return terms.map { " AND " + $0 }.joined()
        }
        var arguments: StatementArguments = [:]
        if let sku { arguments += ["sku": sku] }
        if let list { arguments += ["skus": list] }
        let held = try Row.fetchAll(db, sql: """
            SELECT s.sku AS sku, s.warehouse AS warehouse, sum(s.increments) - sum(s.decrements) AS quantity,
                   coalesce(p.deleted, 0) AS deleted
            FROM stock_counters s LEFT JOIN products p ON p.sku = s.sku
            WHERE 1\(filter("s"))
            GROUP BY s.sku, s.warehouse
            HAVING coalesce(p.deleted, 0) = 0 OR quantity <> 0
            ORDER BY s.sku, s.warehouse
            """, arguments: arguments).map { row in
            StockRow(sku: row["sku"], warehouse: row["warehouse"], quantity: row["quantity"], productDeleted: row["deleted"])
        }
        let moving = try Row.fetchAll(db, sql: """
            SELECT t.sku AS sku, sum(t.shipped - t.accepted - t.returned) AS quantity, coalesce(p.deleted, 0) AS deleted
            FROM transfers t LEFT JOIN products p ON p.sku = t.sku
            WHERE t.shipped > t.accepted + t.returned\(filter("t"))
            GROUP BY t.sku ORDER BY t.sku
            """, arguments: arguments).map { row in
            StockRow(sku: row["sku"], warehouse: StockRow.inTransit, quantity: row["quantity"], productDeleted: row["deleted"])
        }
        return held + moving
    }

    /// Transfer lines with goods still in transit, to or from any warehouse.
    public func openTransfers() throws -> [TransferRecord] {
        try read { db in
            try TransferRecord.fetchAll(db, sql: """
                SELECT * FROM transfers WHERE shipped > accepted + returned ORDER BY shipped_hlc, id, sku
                """)
        }
    }

    /// The first line (by SKU) of transfer `id`: its only one for a transfer of one SKU.
    public func transfer(id: String) throws -> TransferRecord? {
        try transferLines(id: id).first
    }

    /// Every line of transfer `id`, by SKU.
    public func transferLines(id: String) throws -> [TransferRecord] {
        try read { db in try TransferRecord.lines(id: id, in: db) }
    }

    /// Ledger entries in (timestamp, origin, sequence) order, after `cursor`, at most `limit`.
    ///
    /// The operations come from the SKU's history index (with a SKU) or the timestamp index, read in order, and
    /// from the ledger ranges not indexed yet (see `LedgerIndexes`), merged here.
    public func history(_ filter: HistoryFilter = .init(), after cursor: HistoryCursor? = nil, limit: Int = 1_000) throws -> [MovementRecord] {
        try read { db in
            var arguments: StatementArguments = ["limit": limit]
            if let sku = filter.sku { arguments += ["sku": sku] }
            if let warehouse = filter.warehouse { arguments += ["warehouse": warehouse] }
            if let since = filter.sinceMilliseconds { arguments += ["since": Int64(clamping: since << 16)] }
            if let until = filter.untilMilliseconds { arguments += ["until": Int64(clamping: until << 16)] }
            if let cursor { arguments += ["ch": Int64(cursor.hlc), "co": cursor.origin, "cs": Int64(cursor.sequence)] }
            /// The filter's conditions on the operation `o`; `ordered` names the table whose (hlc, origin, sequence)
            /// is scanned in order, so that bounds on them seek.
            func conditions(ordered: String) -> String {
                var clauses: [String] = []
                if filter.sku != nil { clauses.append("\(ordered).sku = :sku") }
                if filter.warehouse != nil { clauses.append("o.warehouse = :warehouse") }
                if let kinds = filter.kinds {
                    let names = kinds.map { "'\($0.rawValue)'" }.sorted().joined(separator: ",")
                    clauses.append("o.kind IN (\(names.isEmpty ? "''" : names))")
                }
                if filter.sinceMilliseconds != nil { clauses.append("\(ordered).hlc >= :since") }
                if filter.untilMilliseconds != nil { clauses.append("\(ordered).hlc < :until") }
                if cursor != nil { clauses.append("(\(ordered).hlc, \(ordered).origin, \(ordered).sequence) > (:ch, :co, :cs)") }
                return clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
            }
            func movements(_ sql: String) throws -> [MovementRecord] {
                try Row.fetchAll(db, sql: sql, arguments: arguments).map { MovementRecord(try OperationRecord.operation(from: $0)) }
            }
            let columns = OperationRecord.selectColumns(of: "o")
            let index = filter.sku == nil ? "hlc_index" : "sku_index"
            let indexed = try movements("""
                SELECT \(columns) FROM \(index) i CROSS JOIN operations o ON o.origin = i.origin AND o.sequence = i.sequence
                \(conditions(ordered: "i")) ORDER BY i.hlc, i.origin, i.sequence LIMIT :limit
                """)
            guard try LedgerIndexes.hasBacklog(in: db) else { return indexed }
            let deferred = try movements("""
                SELECT DISTINCT \(columns) FROM \(LedgerIndexes.backlogOperations)
                \(conditions(ordered: "o")) ORDER BY o.hlc, o.origin, o.sequence LIMIT :limit
                """)
            return Self.mergedInOrder(indexed, deferred, limit: limit)
        }
    }

    /// Two lists in (timestamp, origin, sequence) order merged into one, each operation once, at most `limit`.
    static func mergedInOrder(_ first: [MovementRecord], _ second: [MovementRecord], limit: Int) -> [MovementRecord] {
        struct Key: Hashable {
            var origin: String
            var sequence: UInt64
        }
        var seen = Set<Key>()
        return (first + second)
            .sorted { ($0.timestamp.rawValue, $0.origin, $0.sequence) < ($1.timestamp.rawValue, $1.origin, $1.sequence) }
            .filter { seen.insert(Key(origin: $0.origin, sequence: $0.sequence)).inserted }
            .prefix(limit).map { $0 }
    }

    /// A movement recorded with this id (at any origin).
    public func movement(id: String) throws -> MovementRecord? {
        try read { db in
            try Row.fetchOne(db, sql: LedgerIndexes.movementSQL, arguments: [id])
                .map { MovementRecord(try OperationRecord.operation(from: $0)) }
        }
    }

    /// Opening, in, out and closing stock per SKU and warehouse over `[from, to)` (milliseconds since 1970).
    public func movementReport(fromMilliseconds: UInt64, toMilliseconds: UInt64) throws -> [MovementReportRow] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT sku, warehouse,
                    sum(CASE WHEN hlc < :from THEN delta ELSE 0 END) AS opening,
                    sum(CASE WHEN hlc >= :from AND delta > 0 THEN delta ELSE 0 END) AS incoming,
                    sum(CASE WHEN hlc >= :from AND delta < 0 THEN -delta ELSE 0 END) AS outgoing
                FROM operations
                WHERE warehouse IS NOT NULL AND hlc < :to
                GROUP BY sku, warehouse ORDER BY sku, warehouse
                """, arguments: ["from": Int64(clamping: fromMilliseconds << 16), "to": Int64(clamping: toMilliseconds << 16)]).map { row in
                let opening: Int64 = row["opening"]
                let incoming: Int64 = row["incoming"]
                let outgoing: Int64 = row["outgoing"]
                // Deltas of merged operations are a peer's numbers: the closing stock saturates, never traps.
                return MovementReportRow(
                    sku: row["sku"], warehouse: row["warehouse"], opening: opening, incoming: incoming, outgoing: outgoing,
                    closing: Int64(clamping: Int128(opening) + Int128(incoming) - Int128(outgoing)))
            }
        }
    }

    public func alerts() throws -> [AlertRecord] {
        try read { db in try AlertRecord.fetchAll(db, sql: "SELECT * FROM alerts ORDER BY sku, warehouse") }
    }

    public func tokens() throws -> [TokenRecord] {
        try read { db in try TokenRecord.fetchAll(db, sql: "SELECT * FROM tokens ORDER BY created_at, id") }
    }

    public func reorderOverrides(sku: String? = nil) throws -> [ReorderOverrideRecord] {
        try read { db in
            try ReorderOverrideRecord.fetchAll(db, sql: """
                SELECT * FROM reorder_overrides WHERE reorder_point IS NOT NULL AND (:sku IS NULL OR sku = :sku)
                ORDER BY sku, warehouse
                """, arguments: ["sku": sku])
        }
    }

    public func members() throws -> [MemberRecord] {
        try read { db in try MemberRecord.fetchAll(db, sql: "SELECT * FROM members ORDER BY warehouse") }
    }

    /// The newest retirement or re-admission held per warehouse, as signed (by the cluster CA, or a warehouse retiring
    /// itself).
    public func membershipDecisions() throws -> [MembershipDecision] {
        try read { db in try MembershipDecisionRecord.fetchAll(in: db) }
    }

    /// Every retirement and re-admission this node took, superseded ones included, oldest first: for history.
    public func membershipDecisionLog() throws -> [MembershipDecisionEntry] {
        try read { db in try MembershipDecisionLogRecord.fetchAll(in: db) }
    }

    /// The operations a peer holding `vector` lacks: per origin in sequence order, at most `limit` in all.
    ///
    /// `vector` may come from a peer: an entry beyond any storable sequence (up to `UInt64.max`) means "holds all
    /// of that origin", never a conversion that traps.
    ///
    /// - Returns: the operations and whether more remain beyond `limit`.
    public func operationsMissing(from vector: VersionVector, limit: Int) throws -> (operations: [LedgerOperation], more: Bool) {
        try read { db in
            var result: [LedgerOperation] = []
            let origins = try Self.origins(in: db)
            let statement = try db.cachedStatement(sql: """
                SELECT \(OperationRecord.selectColumns) FROM ledger
                WHERE origin = ? AND sequence > ? ORDER BY sequence LIMIT ?
                """)
            for raw in origins {
                let origin: ReplicaID
                do { origin = try ReplicaID(raw) } catch { throw StoreError.storage("bad origin in ledger: \(raw)") }
                let remaining = limit - result.count
                let rows = try Row.fetchCursor(statement, arguments: [raw, Int64(clamping: vector[origin]), remaining + 1])
                while let row = try rows.next() {
                    if result.count == limit { return (result, true) }
                    result.append(try OperationRecord.operation(from: row))
                }
            }
            return (result, false)
        }
    }

    public func versionVector() throws -> VersionVector {
        try read { db in try VersionVectorRecord.load(db) }
    }

    /// Whether the node was restored from a backup and still refuses local writes until it has caught up.
    public func isCatchingUp() throws -> Bool {
        try read { db in try NodeRecord.isCatchingUp(db) }
    }

    /// Operations of `origin` with sequence above `after`, in sequence order, at most `limit`.
    public func operations(origin: ReplicaID, after: UInt64, limit: Int) throws -> [LedgerOperation] {
        try read { db in
            let statement = try db.cachedStatement(sql: """
                SELECT \(OperationRecord.selectColumns) FROM ledger
                WHERE origin = ? AND sequence > ? ORDER BY sequence LIMIT ?
                """)
            return try Row.fetchAll(statement, arguments: [origin.rawValue, Int64(clamping: after), limit]).map(OperationRecord.operation(from:))
        }
    }

    /// An upper bound of the operations not yet in the SKU history index (`LedgerIndexes`): the writer
    /// indexes them when idle; history reads them meanwhile from the ledger ranges.
    public func historyIndexBacklog() throws -> Int {
        try read { db in try LedgerIndexes.backlog(in: db) }
    }

    /// The number of operations held.
    ///
    /// Each origin holds exactly its version-vector entry's worth of operations at or below that entry (the vector
    /// is the highest *contiguous* sequence), so only what lies beyond it is counted: a few seeks instead of a
    /// scan of the whole ledger, which `inv status` would otherwise pay on every call.
    public func operationCount() throws -> Int {
        try read { db in
            let vector = try VersionVectorRecord.load(db)
            let beyond = try db.cachedStatement(sql: "SELECT count(*) FROM ledger WHERE origin = ? AND sequence > ?")
            var total = 0
            for raw in try Self.origins(in: db) {
                let held = (try? ReplicaID(raw)).map { vector[$0] } ?? 0
                total += Int(held) + (try Int.fetchOne(beyond, arguments: [raw, Int64(held)]) ?? 0)
            }
            return total
        }
    }

    /// The origins present in the ledger, in order: a skip-scan of the primary key, one seek per origin
    /// (`SELECT DISTINCT origin` reads the whole ledger).
    static func origins(in db: Database) throws -> [String] {
        try String.fetchAll(db.cachedStatement(sql: """
            WITH RECURSIVE held(origin) AS (
                SELECT min(origin) FROM ledger
                UNION ALL
                SELECT (SELECT min(origin) FROM ledger WHERE origin > held.origin) FROM held WHERE held.origin IS NOT NULL
            )
            SELECT origin FROM held WHERE origin IS NOT NULL
            """))
    }

    /// The materialised state as canonical text: products, stock counters, transfers and version vector, sorted.
    /// Two nodes holding the same set of operations produce byte-identical digests.
    public func materializedStateDump() throws -> String {
        try read { db in
            var lines: [String] = []
            for (table, order) in [
                ("products", "sku"), ("stock_counters", "sku, warehouse, replica"), ("transfers", "id"),
                ("reorder_overrides", "sku, warehouse"), ("version_vector", "origin"),
            ] {
                for row in try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY \(order)") {
                    lines.append("\(table) \(row.description)")
                }
            }
            return lines.joined(separator: "\n")
        }
    }
}
