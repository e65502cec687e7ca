import CRDT
import GRDB

/// Stock-counter entries of a merged batch, merged by pointwise max ``rowsPerStatement`` at a time.
///
/// As ``LedgerRowBatch`` for the ledger: one upsert run per entry paid SQLite's per-run work once per counter a page
/// touches (about a third of each upsert); a multi-row `VALUES` pays it once per ``rowsPerStatement`` entries, and
/// `OR FAIL` opens no statement journal (a failure fails the whole merge, whose savepoint rolls it all back).
///
/// Only entries that nothing reads before ``flush()`` may wait here: those of counters without an alert to
/// evaluate. Their texts are copied into one buffer, bound in place while the statement runs.
struct CounterEntryBatch {
    static let rowsPerStatement = 16

    private struct Entry {
        var sku: Range<Int>
        var warehouse: Range<Int>
        var replica: Range<Int>
        var increments: Int64
        var decrements: Int64
        var newest: Int64
    }

    private let db: Database
    private var text: [UInt8] = []
    private var waiting: [Entry] = []

    init(in db: Database) {
        self.db = db
    }

    /// Queues `entry` of `replica` in the counter of `(sku, warehouse)`, and merges the entries waiting once a
    /// statement's worth has gathered.
    /// - Throws: `StoreError.overflow` for a value SQLite cannot store; SQLite's error when an upsert fails.
    mutating func queue(
        _ entry: PNCounter.Entry, newest: HLCTimestamp, sku: SKU, warehouse: ReplicaID, replica: ReplicaID
    ) throws {
        guard let increments = Int64(exactly: entry.increments), let decrements = Int64(exactly: entry.decrements) else {
            throw StoreError.overflow
        }
        func append(_ value: String) -> Range<Int> {
            let start = text.count
            text.append(contentsOf: value.utf8)
            return start..<text.count
        }
        waiting.append(Entry(
            sku: append(sku.rawValue), warehouse: append(warehouse.rawValue), replica: append(replica.rawValue),
            increments: increments, decrements: decrements, newest: Int64(bitPattern: newest.rawValue)))
        if waiting.count == Self.rowsPerStatement { try flush() }
    }

    /// Merges every entry waiting.
    mutating func flush() throws {
        guard !waiting.isEmpty else { return }
        let full = waiting.count == Self.rowsPerStatement
        let statement = try BoundStatement(db, sql: full ? Self.batchSQL : StockCounterRecord.mergeMaxSQL)
        try text.withUnsafeBufferPointer { text in
            func bind(_ entry: Entry, to row: inout BoundStatement.Binder) {
                row.borrowedText(UnsafeBufferPointer(rebasing: text[entry.sku]))
                row.borrowedText(UnsafeBufferPointer(rebasing: text[entry.warehouse]))
                row.borrowedText(UnsafeBufferPointer(rebasing: text[entry.replica]))
                row.integer(entry.increments)
                row.integer(entry.decrements)
                row.integer(entry.newest)
            }
            if full {
                try statement.execute { row in for entry in waiting { bind(entry, to: &row) } }
            } else {
                for entry in waiting { try statement.execute { row in bind(entry, to: &row) } }
            }
        }
        waiting.removeAll(keepingCapacity: true)
        text.removeAll(keepingCapacity: true)
    }

    private static let batchSQL = StockCounterRecord.mergeMaxSQL(rows: rowsPerStatement)
}
