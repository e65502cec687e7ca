import CRDT
import GRDB

/// A row of `reorder_overrides`: one warehouse's own reorder point for a product, an LWW register.
public struct ReorderOverrideRecord: Hashable, Codable, Sendable, FetchableRecord {
    public var sku: String
    public var warehouse: String
    /// `nil`: the product's reorder point applies.
    public var reorderPoint: Int64?

    public init(row: Row) throws {
        sku = row["sku"]
        warehouse = row["warehouse"]
        reorderPoint = row["reorder_point"]
    }

    /// Merges an override stamped `(timestamp, replica)`; the newer stamp wins.
    ///
    /// - Returns: whether the stored value changed.
    static func merge(sku: SKU, warehouse: ReplicaID, reorderPoint: Int64?, timestamp: HLCTimestamp, replica: ReplicaID, in db: Database) throws -> Bool {
        let existing = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT reorder_point, hlc, replica FROM reorder_overrides WHERE sku = ? AND warehouse = ?"),
            arguments: [sku.rawValue, warehouse.rawValue])
        let incoming = LWWRegister(value: reorderPoint, timestamp: timestamp, replica: replica)
        if let existing {
            let raw: String = existing[2]
            let held: ReplicaID
            do { held = try ReplicaID(raw) } catch { throw StoreError.storage("bad replica id in overrides: \(raw)") }
            let current = LWWRegister(value: existing[0] as Int64?, timestamp: HLCTimestamp(rawValue: UInt64(existing[1] as Int64)), replica: held)
            let merged = current.merged(with: incoming)
            guard merged != current else { return false }
        }
        try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO reorder_overrides (sku, warehouse, reorder_point, hlc, replica) VALUES (?, ?, ?, ?, ?)
            """).execute(arguments: [sku.rawValue, warehouse.rawValue, reorderPoint, Int64(timestamp.rawValue), replica.rawValue])
        return true
    }
}
