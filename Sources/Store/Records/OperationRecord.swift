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

    /// Binds an operation onto ``insertSQL``, its body encoded in `buffer` (reused from one operation to the next).
    static func bind(_ op: LedgerOperation, to row: inout BoundStatement.Binder, using buffer: inout ByteWriter) throws {
        row.text(op.origin.rawValue)
        row.integer(try storable(op.sequence))
        try LedgerRowBody.encode(op, into: &buffer)
        row.blob(buffer.bytes)
    }

    /// Binds the key of an operation whose row body is already encoded (by its origin; the chain verifier hashed it).
    static func bind(origin: ReplicaID, sequence: UInt64, to row: inout BoundStatement.Binder, body: ArraySlice<UInt8>) throws {
        row.text(origin.rawValue)
        row.integer(try storable(sequence))
        row.blob(body)
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
