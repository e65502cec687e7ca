/// What a replicated operation does. The raw values are stored in SQLite and sent to peers: never rename one.
public enum OperationKind: String, Hashable, Codable, Sendable, CaseIterable {
    case productCreate = "product.create"
    case productUpdate = "product.update"
    case productDelete = "product.delete"
    /// Goods arrive at the origin warehouse (purchase or customer return).
    case receive
    case sell
    /// A signed count correction at the origin warehouse.
    case adjust
    /// Goods leave the origin warehouse towards another one and go in transit.
    case transfer
    /// The destination warehouse takes goods in transit into its stock.
    case accept
    /// A warehouse's own reorder point for a product (or its removal): an LWW register per (sku, warehouse).
    case reorderOverride = "reorder.override"
    /// The destination sends goods in transit back to the source instead of accepting them: the line records them
    /// as returned and a transfer back carries them (``LedgerOperation/transferBack``).
    case transferReturn = "return"

    public var isMovement: Bool {
        switch self {
        case .productCreate, .productUpdate, .productDelete, .reorderOverride: false
        default: true
        }
    }
}
