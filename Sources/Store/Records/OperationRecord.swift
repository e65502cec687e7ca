import CRDT
import Foundation
import GRDB

/// A row of `ledger`: one replicated ledger entry, its fields in one ``LedgerRowBody``.
///
/// Queries select ``selectColumns`` from `ledger` or from the `operations` view (which also exposes every field as
/// a column, for filters) and decode rows with ``operation(from:)``.
///
/// Statements, not a GRDB record type: it is on every write's path (see ``BoundStatement``).
struct OperationRecord {
    static let insertSQL = "INSERT INTO ledger (origin, sequence, body) VALUES (?, ?, ?)"

    static let selectColumns = "origin, sequence, body"

    /// ``selectColumns`` qualified by a table alias, for joins.
    static func selectColumns(of alias: String) -> String {
        selectColumns.split(separator: ",").map { "\(alias).\($0.filter { !$0.isWhitespace })" }.joined(separator: ", ")
    }

    /// Inserts an operation's row with `insert` (``insertSQL``), its body encoded in `buffer` (reused from one
    /// operation to the next).
    static func insert(_ op: LedgerOperation, using insert: BoundStatement, buffer: inout ByteWriter) throws {
        try LedgerRowBody.encode(op, into: &buffer)
        try buffer.bytes.withUnsafeBytes { body in try self.insert(origin: op.origin, sequence: op.sequence, body: body, using: insert) }
    }

    /// The key's text and the body are bound in place, not copied: a merge inserts tens of thousands of rows per
    /// page, and SQLite's copy of each (an allocation under its memory mutex, then a free) was about a sixth of the
    /// insert.
    private static func insert(
        origin: ReplicaID, sequence: UInt64, body: UnsafeRawBufferPointer, using insert: BoundStatement
    ) throws {
        let key = try storable(sequence)
        var origin = origin.rawValue
        try origin.withUTF8 { origin in
            try insert.execute { row in
                row.borrowedText(origin)
                row.integer(key)
                row.borrowedBlob(body)
            }
        }
    }

    /// SQLite integers are signed 64-bit: a larger unsigned value is refused.
    private static func storable(_ value: UInt64) throws -> Int64 {
        guard let stored = Int64(exactly: value) else { throw StoreError.overflow }
        return stored
    }

    /// Decodes a row selected with ``selectColumns`` (read by position, the body in place).
    static func operation(from row: Row) throws -> LedgerOperation {
        let raw: String = row[0]
        let origin: ReplicaID
        do { origin = try ReplicaID(raw) } catch { throw StoreError.storage("bad replica id in ledger: \(raw)") }
        let sequence = UInt64(row[1] as Int64)
        return try row.withUnsafeData(atIndex: 2) { data in
            guard let data else { throw StoreError.storage("ledger row \(raw):\(sequence) has no body") }
            return try data.withUnsafeBytes { try LedgerRowBody.decode(origin: origin, sequence: sequence, body: $0) }
        }
    }
}
