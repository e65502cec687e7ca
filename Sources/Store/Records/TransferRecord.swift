import CRDT
import GRDB

/// A row of `transfers`: one line `(id, sku)` of goods shipped from one warehouse to another, and how much of it
/// the destination accepted or sent back.
public struct TransferRecord: Hashable, Codable, Sendable, FetchableRecord {
    public var id: String
    public var sku: String
    public var from: String
    public var to: String
    public var shipped: Int64
    public var accepted: Int64
    /// What the destination sent back to the source (as a transfer back).
    public var returned: Int64
    /// Whether the transfer may hold several lines (a transfer document or a transfer back): its operations are
    /// encoded in version 2 (``LedgerOperation/encodingVersion``).
    public var isLine: Bool
    /// When the source shipped it (HLC); `nil` while only the destination's acceptance is held.
    public var shippedAt: HLCTimestamp?

    /// What is still on the road: neither accepted nor sent back.
    public var inTransit: Int64 { max(shipped - accepted - returned, 0) }

    public init(row: Row) throws {
        id = row["id"]
        sku = row["sku"]
        from = row["from_warehouse"]
        to = row["to_warehouse"]
        shipped = row["shipped"]
        accepted = row["accepted"]
        returned = row["returned"]
        isLine = row["is_line"]
        shippedAt = (row["shipped_hlc"] as Int64?).map { HLCTimestamp(rawValue: UInt64($0)) }
    }

    /// The lines of transfer `id`, by SKU.
    static func lines(id: String, in db: Database) throws -> [TransferRecord] {
        try TransferRecord.fetchAll(db.cachedStatement(sql: "SELECT * FROM transfers WHERE id = ? ORDER BY sku"), arguments: [id])
    }

    /// Merges a transfer line's delta: shipped, accepted and returned are each a max, so any order of arrival gives
    /// the same row.
    static func merge(_ delta: TransferDelta, sku: SKU, timestamp: HLCTimestamp, in db: Database) throws {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO transfers (id, sku, from_warehouse, to_warehouse, shipped, accepted, returned, shipped_hlc, is_line)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id, sku) DO UPDATE SET
                shipped = max(shipped, excluded.shipped),
                accepted = max(accepted, excluded.accepted),
                returned = max(returned, excluded.returned),
                shipped_hlc = coalesce(shipped_hlc, excluded.shipped_hlc),
                is_line = max(is_line, excluded.is_line)
            """)
        try statement.execute(arguments: [
            delta.id, sku.rawValue, delta.from.rawValue, delta.to.rawValue, delta.shipped ?? 0, delta.accepted ?? 0,
            delta.returned ?? 0, delta.shipped == nil ? nil : Int64(timestamp.rawValue), delta.isLine,
        ])
    }
}
