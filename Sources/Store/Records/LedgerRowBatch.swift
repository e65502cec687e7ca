import CRDT
import GRDB

/// Ledger rows of a merged page, inserted ``rowsPerStatement`` at a time.
///
/// One statement run per row paid SQLite's per-run work (the transaction check, opening and closing a cursor on
/// `ledger`, halting the program) once per operation: about a third of each row's insert on a catching-up node. A
/// multi-row `VALUES` runs it once per ``rowsPerStatement`` rows, with one cursor.
///
/// `INSERT OR FAIL`, not the default `ABORT`: a statement that writes several rows and may abort half-way makes
/// SQLite open a statement journal for each run, copying every page the run touches. `FAIL` keeps the rows written
/// before a failing one, which changes nothing here: a failure fails the whole merge, and its savepoint rolls every
/// row back.
///
/// Rows wait in ``queue(origin:sequence:bodyAt:)`` until a statement's worth has gathered or ``flush()`` is called;
/// their keys and bodies are bound in place (`SQLITE_STATIC`) from the origins' text kept here and the page's
/// bodies, both alive while the statement runs.
struct LedgerRowBatch {
    static let rowsPerStatement = 16

    static let insertSQL = "INSERT OR FAIL INTO ledger (origin, sequence, body) VALUES "
        + Array(repeating: "(?, ?, ?)", count: rowsPerStatement).joined(separator: ", ")

    private struct Key {
        var origin: Range<Int>
        var sequence: Int64
        var body: Range<Int>
    }

    private let many: BoundStatement
    private let one: BoundStatement
    private let bodies: EncodedBodies
    /// The UTF-8 of each origin met, one after the other; a key's `origin` is its range here.
    private var originText: [UInt8] = []
    private var origins = PerOrigin<Range<Int>>()
    private var waiting: [Key] = []

    /// - Parameter bodies: the page's encoded bodies, by position in the batch.
    init(bodies: EncodedBodies, in db: Database) throws {
        many = try BoundStatement(db, sql: Self.insertSQL)
        one = try BoundStatement(db, sql: OperationRecord.insertSQL)
        self.bodies = bodies
        waiting.reserveCapacity(Self.rowsPerStatement)
    }

    /// Whether the operation at `position` has an encoded body to queue.
    func hasBody(at position: Int) -> Bool { bodies.range(at: position) != nil }

    /// Queues the row of the operation at `position` (its body must be encoded: ``hasBody(at:)``), and inserts the
    /// rows waiting once a statement's worth has gathered.
    /// - Throws: `StoreError.overflow` for a sequence SQLite cannot store; SQLite's error when an insert fails.
    mutating func queue(origin: ReplicaID, sequence: UInt64, bodyAt position: Int) throws {
        guard let body = bodies.range(at: position) else { preconditionFailure("the operation at \(position) has no encoded body") }
        guard let stored = Int64(exactly: sequence) else { throw StoreError.overflow }
        let slot = origins.index(of: origin) {
            let start = originText.count
            originText.append(contentsOf: origin.rawValue.utf8)
            return start..<originText.count
        }
        waiting.append(Key(origin: origins.values[slot], sequence: stored, body: body))
        if waiting.count == Self.rowsPerStatement { try flush() }
    }

    /// Inserts every row waiting.
    mutating func flush() throws {
        guard !waiting.isEmpty else { return }
        let full = waiting.count == Self.rowsPerStatement
        try originText.withUnsafeBufferPointer { text in
            try bodies.withUnsafeBytes { bytes in
                func bind(_ key: Key, to row: inout BoundStatement.Binder) {
                    row.borrowedText(UnsafeBufferPointer(rebasing: text[key.origin]))
                    row.integer(key.sequence)
                    row.borrowedBlob(UnsafeRawBufferPointer(rebasing: bytes[key.body]))
                }
                if full {
                    try many.execute { row in for key in waiting { bind(key, to: &row) } }
                } else {
                    for key in waiting { try one.execute { row in bind(key, to: &row) } }
                }
            }
        }
        waiting.removeAll(keepingCapacity: true)
    }
}
