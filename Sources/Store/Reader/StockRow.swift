/// One line of a stock view: a warehouse's quantity of a product, or goods in transit.
public struct StockRow: Hashable, Codable, Sendable {
    /// The pseudo-warehouse naming goods in transit between warehouses.
    public static let inTransit = "in-transit"

    public var sku: String
    public var warehouse: String
    public var quantity: Int64
    /// The product was deleted; its stock stays visible while any warehouse holds some.
    public var productDeleted: Bool

    public init(sku: String, warehouse: String, quantity: Int64, productDeleted: Bool) {
        self.sku = sku
        self.warehouse = warehouse
        self.quantity = quantity
        self.productDeleted = productDeleted
    }
}

/// Per SKU and warehouse, over a time window: stock at the start, goods in, goods out, stock at the end.
public struct MovementReportRow: Hashable, Codable, Sendable {
    public var sku: String
    public var warehouse: String
    public var opening: Int64
    public var incoming: Int64
    public var outgoing: Int64
    public var closing: Int64
}

/// What a history query selects. All filters are optional and combine with AND.
public struct HistoryFilter: Hashable, Sendable {
    public var sku: String?
    public var warehouse: String?
    public var kinds: Set<OperationKind>?
    /// Inclusive lower bound, milliseconds since 1970.
    public var sinceMilliseconds: UInt64?
    /// Exclusive upper bound, milliseconds since 1970.
    public var untilMilliseconds: UInt64?

    public init(sku: String? = nil, warehouse: String? = nil, kinds: Set<OperationKind>? = nil, sinceMilliseconds: UInt64? = nil, untilMilliseconds: UInt64? = nil) {
        self.sku = sku
        self.warehouse = warehouse
        self.kinds = kinds
        self.sinceMilliseconds = sinceMilliseconds
        self.untilMilliseconds = untilMilliseconds
    }
}

/// A position in the ledger's (timestamp, origin, sequence) order, for cursor pagination.
public struct HistoryCursor: Hashable, Codable, Sendable {
    public var hlc: UInt64
    public var origin: String
    public var sequence: UInt64

    public init(hlc: UInt64, origin: String, sequence: UInt64) {
        self.hlc = hlc
        self.origin = origin
        self.sequence = sequence
    }

    /// An opaque string form for URLs: `hlc.sequence.origin`.
    public var token: String { "\(hlc).\(sequence).\(origin)" }

    /// Parses ``token``; `nil` for anything else, including numbers beyond what the ledger stores (`Int64`).
    public init?(token: String) {
        let parts = token.split(separator: ".", maxSplits: 2)
        guard parts.count == 3, let hlc = UInt64(parts[0]), let sequence = UInt64(parts[1]),
              hlc <= UInt64(Int64.max), sequence <= UInt64(Int64.max)
        else { return nil }
        self.init(hlc: hlc, origin: String(parts[2]), sequence: sequence)
    }
}
