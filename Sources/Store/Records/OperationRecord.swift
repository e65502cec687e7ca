import CRDT
import Foundation
import GRDB

/// A row of `operations`: one replicated ledger entry.
struct OperationRecord {
    enum Columns {
        static let origin = Column("origin")
        static let sequence = Column("sequence")
        static let hlc = Column("hlc")
        static let kind = Column("kind")
        static let sku = Column("sku")
        static let movementID = Column("movement_id")
        static let warehouse = Column("warehouse")
        static let delta = Column("delta")
    }

    static let insertSQL = """
        INSERT INTO operations (origin, sequence, hlc, kind, sku, movement_id, warehouse, delta,
            counter_increments, counter_decrements, transfer_id, transfer_from, transfer_to, transfer_shipped,
            transfer_accepted, product, actor, reason, reference, context)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    static let selectColumns = """
        origin, sequence, hlc, kind, sku, movement_id, warehouse, delta, counter_increments, counter_decrements,
        transfer_id, transfer_from, transfer_to, transfer_shipped, transfer_accepted, product, actor, reason, reference,
        context
        """

    /// ``selectColumns`` qualified by a table alias, for joins.
    static func selectColumns(of alias: String) -> String {
        selectColumns.split(separator: ",").map { "\(alias).\($0.filter { !$0.isWhitespace })" }.joined(separator: ", ")
    }

    /// Binds an operation onto ``insertSQL``, column by column.
    static func bind(_ op: LedgerOperation, to row: inout BoundStatement.Binder) throws {
        row.text(op.origin.rawValue)
        row.integer(try storable(op.sequence))
        row.integer(try storable(op.timestamp.rawValue))
        row.text(op.kind.rawValue)
        row.text(op.sku.rawValue)
        row.text(op.movementID)
        row.text(op.warehouse?.rawValue)
        row.integer(op.delta)
        row.integer(try op.counter.map { try storable($0.increments) })
        row.integer(try op.counter.map { try storable($0.decrements) })
        row.text(op.transfer?.id)
        row.text(op.transfer?.from.rawValue)
        row.text(op.transfer?.to.rawValue)
        row.integer(op.transfer?.shipped)
        row.integer(op.transfer?.accepted)
        row.text(try op.product.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) })
        row.text(op.actor)
        row.text(op.reason)
        row.text(op.reference)
        row.text(try op.context.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) })
    }

    /// SQLite integers are signed 64-bit: a larger unsigned value is refused.
    private static func storable(_ value: UInt64) throws -> Int64 {
        guard let stored = Int64(exactly: value) else { throw StoreError.overflow }
        return stored
    }

    /// Decodes a row selected with ``selectColumns`` (read by position: name lookups were a measurable share of
    /// serving a sync page).
    static func operation(from row: Row) throws -> LedgerOperation {
        func replica(_ raw: String) throws -> ReplicaID {
            do { return try ReplicaID(raw) } catch { throw StoreError.storage("bad replica id in ledger: \(raw)") }
        }
        let kindRaw: String = row[3]
        guard let kind = OperationKind(rawValue: kindRaw) else { throw StoreError.storage("unknown operation kind \(kindRaw)") }
        var counter: PNCounter.Entry?
        if let increments: Int64 = row[8], let decrements: Int64 = row[9] {
            counter = PNCounter.Entry(increments: UInt64(increments), decrements: UInt64(decrements))
        }
        var transfer: TransferDelta?
        if let id: String = row[10] {
            transfer = TransferDelta(
                id: id, from: try replica(row[11]), to: try replica(row[12]), shipped: row[13], accepted: row[14])
        }
        var product: ProductPatch?
        if let json: String = row[15] {
            product = try JSONDecoder().decode(ProductPatch.self, from: Data(json.utf8))
        }
        var context: VersionVector?
        if let json: String = row[19] {
            context = try JSONDecoder().decode(VersionVector.self, from: Data(json.utf8))
        }
        let warehouse: String? = row[6]
        return LedgerOperation(
            origin: try replica(row[0]), sequence: UInt64(row[1] as Int64), timestamp: HLCTimestamp(rawValue: UInt64(row[2] as Int64)),
            kind: kind, sku: try SKU(row[4] as String), movementID: row[5], warehouse: try warehouse.map(replica), delta: row[7],
            counter: counter, transfer: transfer, product: product, actor: row[16], reason: row[17], reference: row[18],
            context: context)
    }
}
