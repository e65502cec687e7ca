import CRDT

/// A ledger entry as shown to people and reports: who did what, when and why.
public struct MovementRecord: Hashable, Codable, Sendable {
    /// The movement id (a lowercase UUID); for product operations, `origin:sequence`.
    public var id: String
    public var type: OperationKind
    public var sku: String
    /// The warehouse whose stock changed (`nil` for product operations).
    public var warehouse: String?
    /// The quantity as entered: positive for receipts, sales, transfers and acceptances; signed for adjustments.
    public var quantity: Int64
    /// The signed change of `warehouse`'s stock.
    public var delta: Int64
    public var origin: String
    public var sequence: UInt64
    public var timestamp: HLCTimestamp
    public var user: String
    public var reason: String?
    public var reference: String?
    public var transferID: String?
    /// The other warehouse of a transfer (its destination) or of an acceptance or a return (its source).
    public var counterpart: String?
    /// The document this movement is a line of (``LedgerOperation/document``), if any.
    public var document: String?

    public init(
        id: String, type: OperationKind, sku: String, warehouse: String?, quantity: Int64, delta: Int64, origin: String,
        sequence: UInt64, timestamp: HLCTimestamp, user: String, reason: String?, reference: String?,
        transferID: String?, counterpart: String?, document: String? = nil
    ) {
        self.id = id
        self.type = type
        self.sku = sku
        self.warehouse = warehouse
        self.quantity = quantity
        self.delta = delta
        self.origin = origin
        self.sequence = sequence
        self.timestamp = timestamp
        self.user = user
        self.reason = reason
        self.reference = reference
        self.transferID = transferID
        self.counterpart = counterpart
        self.document = document
    }

    public init(_ op: LedgerOperation) {
        id = op.movementID ?? "\(op.origin.rawValue):\(op.sequence)"
        type = op.kind
        sku = op.sku.rawValue
        warehouse = op.warehouse?.rawValue
        quantity = Self.quantity(kind: op.kind, delta: op.delta, returned: op.transferBack?.shipped)
        delta = op.delta
        origin = op.origin.rawValue
        sequence = op.sequence
        timestamp = op.timestamp
        user = op.actor
        reason = op.reason
        reference = op.reference
        transferID = op.transfer?.id
        switch Self.counterpart(of: op.kind) {
        case .destination: counterpart = op.transfer?.to.rawValue
        case .source: counterpart = op.transfer?.from.rawValue
        case nil: counterpart = nil
        }
        document = op.document
    }

    /// The quantity as entered of an operation of `kind` changing stock by `delta`; `returned`: what a return's
    /// transfer back ships.
    public static func quantity(kind: OperationKind, delta: Int64, returned: Int64?) -> Int64 {
        switch kind {
        case .adjust: delta
        // A return changes no stock: its quantity is what it sends back.
        case .transferReturn: returned ?? 0
        // A merged operation's delta may be `Int64.min` (a hostile peer's): its magnitude is clamped, never trapped on.
        default: Int64(clamping: delta.magnitude)
        }
    }

    /// One end of a transfer.
    public enum TransferEnd: Sendable { case source, destination }

    /// Which end of its transfer an operation of `kind` names as its counterpart, if any.
    public static func counterpart(of kind: OperationKind) -> TransferEnd? {
        switch kind {
        case .transfer: .destination
        case .accept, .transferReturn: .source
        default: nil
        }
    }
}
