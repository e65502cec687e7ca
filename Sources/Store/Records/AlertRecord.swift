import CRDT
import GRDB

/// A row of `alerts`: a warehouse whose stock of a product is at or below its reorder point.
public struct AlertRecord: Hashable, Codable, Sendable, FetchableRecord {
    enum Columns {
        static let sku = Column("sku")
        static let warehouse = Column("warehouse")
    }

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
