import CRDT
import GRDB

/// A row of `conflicts`: two changes that were made concurrently and could not both win.
///
/// - `concurrent_update`: two warehouses changed the same product field without seeing each other's change; the
///   LWW order `(hlc, replica)` kept one (`kept`) and overwrote the other (`overwritten`).
/// - `movement_on_deleted_product`: a movement was made while, concurrently, the product was deleted elsewhere;
///   the movement is kept (no movement is ever dropped) and the stock stays visible, flagged.
/// - `sku_case`: two live products whose SKUs differ only by case (created apart on two nodes, met in a merge).
///   Both stay (a merge never refuses a product); `kept` and `overwritten` name the two SKUs, with who created each
///   and when. Never stored: read from the products as they are (see `LedgerReader.conflicts()`).
/// - `barcode`: one barcode held by two live products (given apart on two nodes, met in a merge). `field` is the
///   code; `kept` is the SKU look-ups take (the first), `overwritten` the other. Read from the products, like
///   `sku_case`.
public struct ConflictRecord: Hashable, Codable, Sendable, FetchableRecord {
    public enum Kind: String, Hashable, Codable, Sendable {
        case concurrentUpdate = "concurrent_update"
        case movementOnDeletedProduct = "movement_on_deleted_product"
        case skuCase = "sku_case"
        case barcode
    }

    public var kind: Kind
    public var sku: String
    /// The field (`name`, `price`...) or, for a movement, its id.
    public var field: String
    public var kept: String?
    public var keptOrigin: String
    public var keptAt: HLCTimestamp
    public var overwritten: String?
    public var overwrittenOrigin: String
    public var overwrittenAt: HLCTimestamp

    public init(
        kind: Kind, sku: String, field: String, kept: String?, keptOrigin: String, keptAt: HLCTimestamp, overwritten: String?,
        overwrittenOrigin: String, overwrittenAt: HLCTimestamp
    ) {
        self.kind = kind
        self.sku = sku
        self.field = field
        self.kept = kept
        self.keptOrigin = keptOrigin
        self.keptAt = keptAt
        self.overwritten = overwritten
        self.overwrittenOrigin = overwrittenOrigin
        self.overwrittenAt = overwrittenAt
    }

    public init(row: Row) throws {
        let raw: String = row[Columns.kind]
        guard let kind = Kind(rawValue: raw) else { throw StoreError.storage("unknown conflict kind \(raw)") }
        self.kind = kind
        sku = row[Columns.sku]
        field = row[Columns.field]
        kept = row[Columns.kept]
        keptOrigin = row[Columns.keptOrigin]
        keptAt = HLCTimestamp(rawValue: UInt64(row[Columns.keptHLC] as Int64))
        overwritten = row[Columns.overwritten]
        overwrittenOrigin = row[Columns.overwrittenOrigin]
        overwrittenAt = HLCTimestamp(rawValue: UInt64(row[Columns.overwrittenHLC] as Int64))
    }

    /// Records the conflict once (the same pair seen again, from either side, is one row).
    func save(in db: Database) throws {
        try insert(db)
    }
}

extension ConflictRecord: PersistableRecord {
    public static let databaseTableName = "conflicts"
    /// The same conflict seen again, from either side, is the row already held.
    public static let persistenceConflictPolicy = PersistenceConflictPolicy(insert: .ignore)

    public enum Columns {
        public static let kind = Column("kind")
        public static let sku = Column("sku")
        public static let field = Column("field")
        public static let kept = Column("kept")
        public static let keptOrigin = Column("kept_origin")
        public static let keptHLC = Column("kept_hlc")
        public static let overwritten = Column("overwritten")
        public static let overwrittenOrigin = Column("overwritten_origin")
        public static let overwrittenHLC = Column("overwritten_hlc")
    }

    public func encode(to container: inout PersistenceContainer) {
        container[Columns.kind] = kind.rawValue
        container[Columns.sku] = sku
        container[Columns.field] = field
        container[Columns.kept] = kept
        container[Columns.keptOrigin] = keptOrigin
        container[Columns.keptHLC] = Int64(keptAt.rawValue)
        container[Columns.overwritten] = overwritten
        container[Columns.overwrittenOrigin] = overwrittenOrigin
        container[Columns.overwrittenHLC] = Int64(overwrittenAt.rawValue)
    }
}
