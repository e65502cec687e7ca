import CRDT
import Foundation
import GRDB

/// One answer of the change feed, after its operations were given one by one: what a ``ChangeCursor`` had not
/// covered, in per-origin sequence order.
public struct ChangePage: Sendable {
    /// How many operations were given.
    public var count: Int
    /// The cursor covering everything before it and the operations given.
    public var next: ChangeCursor
    /// The node's version vector when read: per origin, the highest contiguous sequence it holds.
    public var held: VersionVector
    /// Origins of which the node holds operations beyond a gap in their sequence: held, but not delivered until
    /// the gap is filled.
    public var heldBeyondGap: [ReplicaID]
    /// Whether more operations could be delivered right now (the page stopped at its limit).
    public var more: Bool
}

extension LedgerReader {
    /// The operations `cursor` does not cover, at most `limit`, from one read transaction, each given to `each` as
    /// a view of its stored row (``LedgerRowView``), in order, inside the read transaction: a reader copies fields
    /// straight out (the change feed's JSON), or decodes the operation (``LedgerRowView/operation()``).
    ///
    /// Per origin, only sequences in `(cursor[origin], held[origin]]` are answered, `held` being the node's version
    /// vector — the highest *contiguous* sequence it holds of each origin, updated in the same transaction as the
    /// ledger. The feed therefore never steps over a gap: an operation held beyond one waits until the gap is
    /// filled, and the cursor never claims a sequence that was not delivered. Each range is read by the ledger's
    /// primary key `(origin, sequence)`, whatever the history indexes' backlog.
    ///
    /// - Complexity: one seek per origin held and one per origin read, plus the operations answered.
    public func changes(
        after cursor: ChangeCursor, limit: Int, each: (LedgerRowView) throws -> Void
    ) throws -> ChangePage {
        try read { db in
            let held = try VersionVectorRecord.load(db)
            var next = cursor
            var delivered = 0
            var more = false
            let range = try db.cachedStatement(sql: """
                SELECT sequence, body FROM ledger
                WHERE origin = ? AND sequence > ? AND sequence <= ? ORDER BY sequence LIMIT ?
                """)
            for (origin, top) in held.entries.sorted(by: { $0.key < $1.key }) where top > cursor.vector[origin] {
                let remaining = limit - delivered
                guard remaining > 0 else {
                    more = true
                    break
                }
                let rows = try Row.fetchCursor(range, arguments: [origin.rawValue, Int64(cursor.vector[origin]), Int64(top), remaining])
                var last = cursor.vector[origin]
                while let row = try rows.next() {
                    let sequence = UInt64(row[0] as Int64)
                    // The vector promises density; a hole here would be a broken store, and skipping it a lost
                    // operation for the reader.
                    guard sequence == last + 1 else {
                        throw StoreError.storage("ledger of \(origin) lacks sequence \(last + 1) below its version vector")
                    }
                    try row.withUnsafeData(atIndex: 1) { data in
                        guard let data else { throw StoreError.storage("ledger row \(origin):\(sequence) has no body") }
                        try data.withUnsafeBytes { body in try each(try LedgerRowView(origin: origin, sequence: sequence, body: body)) }
                    }
                    delivered += 1
                    last = sequence
                }
                next.advance(origin, to: last)
                if last < top { more = true }
            }
            let beyond = try db.cachedStatement(sql: "SELECT 1 FROM ledger WHERE origin = ? AND sequence > ? LIMIT 1")
            var heldBeyondGap: [ReplicaID] = []
            for raw in try Self.origins(in: db) {
                guard let origin = try? ReplicaID(raw) else { continue }
                if try Bool.fetchOne(beyond, arguments: [raw, Int64(held[origin])]) != nil { heldBeyondGap.append(origin) }
            }
            return ChangePage(count: delivered, next: next, held: held, heldBeyondGap: heldBeyondGap, more: more)
        }
    }
}
