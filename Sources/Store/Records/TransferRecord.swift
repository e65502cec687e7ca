import CRDT
import GRDB

/// A row of `transfers`: goods shipped from one warehouse to another, and how much the destination accepted.
public struct TransferRecord: Hashable, Codable, Sendable, FetchableRecord {
    enum Columns {
        static let id = Column("id")
        static let sku = Column("sku")
        static let fromWarehouse = Column("from_warehouse")
        static let toWarehouse = Column("to_warehouse")
        static let shipped = Column("shipped")
        static let accepted = Column("accepted")
    }

    public var id: String
    public var sku: String
    public var from: String
    public var to: String
    public var shipped: Int64
    public var accepted: Int64
    /// When the source shipped it (HLC); `nil` while only the destination's acceptance is held.
    public var shippedAt: HLCTimestamp?

    /// What is still on the road.
    public var inTransit: Int64 { max(shipped - accepted, 0) }

    public init(row: Row) throws {
        id = row["id"]
        sku = row["sku"]
        from = row["from_warehouse"]
        to = row["to_warehouse"]
        shipped = row["shipped"]
        accepted = row["accepted"]
        shippedAt = (row["shipped_hlc"] as Int64?).map { HLCTimestamp(rawValue: UInt64($0)) }
    }

    static func fetch(id: String, in db: Database) throws -> TransferRecord? {
        try TransferRecord.fetchOne(db.cachedStatement(sql: "SELECT * FROM transfers WHERE id = ?"), arguments: [id])
    }

    /// Merges a transfer delta: shipped and accepted are each a max, so any order of arrival gives the same row.
    static func merge(_ delta: TransferDelta, sku: SKU, timestamp: HLCTimestamp, in db: Database) throws {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO transfers (id, sku, from_warehouse, to_warehouse, shipped, accepted, shipped_hlc)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET
                shipped = max(shipped, excluded.shipped),
                accepted = max(accepted, excluded.accepted),
                shipped_hlc = coalesce(shipped_hlc, excluded.shipped_hlc)
            """)
        try statement.execute(arguments: [
            delta.id, sku.rawValue, delta.from.rawValue, delta.to.rawValue, delta.shipped ?? 0, delta.accepted ?? 0,
            delta.shipped == nil ? nil : Int64(timestamp.rawValue),
        ])
    }
}
