import CRDT
import GRDB

/// A row of `reorder_overrides`: one warehouse's own reorder point for a product, an LWW register stamped
/// `(hlc, replica)`.
public struct ReorderOverrideRecord: Hashable, Codable, Sendable, FetchableRecord {
    public var sku: String
    public var warehouse: String
    /// `nil`: the product's reorder point applies.
    public var reorderPoint: Int64?
    public var timestamp: HLCTimestamp
    public var replica: String

    public init(row: Row) throws {
        sku = row[Columns.sku]
        warehouse = row[Columns.warehouse]
        reorderPoint = row[Columns.reorderPoint]
        timestamp = HLCTimestamp(rawValue: UInt64(row[Columns.hlc] as Int64))
        replica = row[Columns.replica]
    }

    init(sku: SKU, warehouse: ReplicaID, reorderPoint: Int64?, timestamp: HLCTimestamp, replica: ReplicaID) {
        self.sku = sku.rawValue
        self.warehouse = warehouse.rawValue
        self.reorderPoint = reorderPoint
        self.timestamp = timestamp
        self.replica = replica.rawValue
    }

    private func register() throws -> LWWRegister<Int64?> {
        do { return LWWRegister(value: reorderPoint, timestamp: timestamp, replica: try ReplicaID(replica)) } catch {
            throw StoreError.storage("bad replica id in overrides: \(replica)")
        }
    }

    /// Merges `incoming` into the stored register of its `(sku, warehouse)`; the newer stamp wins.
    ///
    /// - Returns: whether the stored value changed.
    static func merge(_ incoming: ReorderOverrideRecord, in db: Database) throws -> Bool {
        if let existing = try ReorderOverrideRecord.fetchOne(db, key: [
            Columns.sku.name: incoming.sku, Columns.warehouse.name: incoming.warehouse,
        ]) {
            let current = try existing.register()
            guard current.merged(with: try incoming.register()) != current else { return false }
        }
        try incoming.insert(db)
        return true
    }
}

extension ReorderOverrideRecord: PersistableRecord {
    public static let databaseTableName = "reorder_overrides"
    /// A write replaces the register's row: ``merge(_:in:)`` decided it wins.
    public static let persistenceConflictPolicy = PersistenceConflictPolicy(insert: .replace)

    public enum Columns {
        public static let sku = Column("sku")
        public static let warehouse = Column("warehouse")
        public static let reorderPoint = Column("reorder_point")
        public static let hlc = Column("hlc")
        public static let replica = Column("replica")
    }

    public func encode(to container: inout PersistenceContainer) {
        container[Columns.sku] = sku
        container[Columns.warehouse] = warehouse
        container[Columns.reorderPoint] = reorderPoint
        container[Columns.hlc] = Int64(clamping: timestamp.rawValue)
        container[Columns.replica] = replica
    }
}
