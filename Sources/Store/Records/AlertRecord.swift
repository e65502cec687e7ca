import CRDT
import GRDB

/// A row of `alerts`: a warehouse whose stock of a product is at or below its reorder point.
///
/// `raisedAt` is the greatest timestamp among the operations that decide the alert (see ``decidingTimeSQL``), not the
/// moment this node noticed it: so every node holding the same operations shows the same time, whatever the order
/// they arrived in.
public struct AlertRecord: Hashable, Codable, Sendable, FetchableRecord {
    public var sku: String
    public var warehouse: String
    public var quantity: Int64
    public var reorderPoint: Int64
    public var raisedAt: HLCTimestamp

    public init(sku: String, warehouse: String, quantity: Int64, reorderPoint: Int64, raisedAt: HLCTimestamp) {
        self.sku = sku
        self.warehouse = warehouse
        self.quantity = quantity
        self.reorderPoint = reorderPoint
        self.raisedAt = raisedAt
    }

    public init(row: Row) throws {
        sku = row["sku"]
        warehouse = row["warehouse"]
        quantity = row["quantity"]
        reorderPoint = row["reorder_point"]
        raisedAt = HLCTimestamp(rawValue: UInt64(row["raised_hlc"] as Int64))
    }
}

extension AlertRecord {
    /// The time of the alert of `(?1 sku, ?2 warehouse)`: the greatest timestamp among the stock operations merged
    /// into its counter, the product's reorder point and deletion registers, and the warehouse's override.
    static let decidingTimeSQL = """
        SELECT max(
            coalesce((SELECT max(s.newest_hlc) FROM stock_counters s WHERE s.sku = ?1 AND s.warehouse = ?2), 0),
            coalesce((SELECT max(coalesce(p.reorder_point_hlc, 0), coalesce(p.deleted_hlc, 0)) FROM products p
                      WHERE p.sku = ?1), 0),
            coalesce((SELECT o.hlc FROM reorder_overrides o WHERE o.sku = ?1 AND o.warehouse = ?2), 0))
        """
}
