import CRDT
import Foundation
import GRDB

/// A ledger row as the `operations` table stored it before migration v10: one column per field. Only that
/// migration reads this form, so it is kept here, frozen, whatever later becomes of the operation types.
enum LegacyOperationRow {
    private static let columns = """
        origin, sequence, hlc, kind, sku, movement_id, warehouse, delta, counter_increments, counter_decrements,
        transfer_id, transfer_from, transfer_to, transfer_shipped, transfer_accepted, product, actor, reason, reference,
        context
        """

    /// Rewrites every row of the column table `source` as a `(origin, sequence, body)` row of `destination`.
    static func moveAll(from source: String, into destination: String, in db: Database) throws {
        let insert = try db.makeStatement(sql: "INSERT INTO \(destination) (origin, sequence, body) VALUES (?, ?, ?)")
        let rows = try Row.fetchCursor(db, sql: "SELECT \(columns) FROM \(source) ORDER BY origin, sequence")
        while let row = try rows.next() {
            let op = try operation(from: row)
            try insert.execute(arguments: [op.origin.rawValue, Int64(op.sequence), Data(try LedgerRowBody.encode(op))])
        }
    }

    private static func operation(from row: Row) throws -> LedgerOperation {
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
