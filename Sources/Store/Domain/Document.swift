import CRDT

/// What a document does at this node's warehouse: each of its lines becomes one movement of that type (a `count`
/// line, an adjustment by the difference).
public enum DocumentType: String, Hashable, Codable, Sendable, CaseIterable {
    case receive, sell, transfer, count
}

/// A delivery note, a sale, a shipment or a stocktake: many lines recorded as one command, all or none.
///
/// Lines name a SKU and a quantity; for `count`, the quantity counted. The same SKU on several lines is summed
/// (receive, sell, transfer) or refused (count: two counts of one shelf contradict each other).
public struct DocumentRequest: Hashable, Codable, Sendable {
    public struct Line: Hashable, Codable, Sendable {
        public var sku: SKU
        public var quantity: Int64

        public init(sku: SKU, quantity: Int64) {
            self.sku = sku
            self.quantity = quantity
        }
    }

    /// The most lines one document holds.
    public static let maxLines = 10_000

    public var type: DocumentType
    public var lines: [Line]
    /// The destination warehouse of a transfer.
    public var to: ReplicaID?
    public var reason: String?
    public var reference: String?
    /// The document id (a lowercase UUID): the idempotency key. The same id again answers the stored document.
    public var id: String
    /// One fresh movement id (a lowercase UUID) per line, in line order: a line whose SKU appeared on an earlier
    /// line records nothing of its own, so its id goes unused. Callers supply them (the writer generates none).
    public var movementIDs: [String]
    public var actor: String
    /// For a `count`: when counting started (a scanner's first scan). Each line's adjustment is then taken against
    /// the stock on hand at that moment, so what was sold or received while the shelves were being counted is not
    /// undone. `nil`: the moment of submission.
    public var countStartedAt: HLCTimestamp?

    public init(
        type: DocumentType, lines: [Line], to: ReplicaID? = nil, reason: String? = nil, reference: String? = nil,
        id: String, movementIDs: [String], actor: String, countStartedAt: HLCTimestamp? = nil
    ) {
        self.type = type
        self.lines = lines
        self.to = to
        self.reason = reason
        self.reference = reference
        self.id = id
        self.movementIDs = movementIDs
        self.actor = actor
        self.countStartedAt = countStartedAt
    }
}

/// A stored document: what was asked and the movement each line recorded.
public struct DocumentRecord: Hashable, Codable, Sendable {
    public struct Line: Hashable, Codable, Sendable {
        public var sku: String
        /// The quantity moved (summed over the lines that named this SKU); for `count`, the quantity counted.
        public var quantity: Int64
        /// The movement recorded, or `nil` when the line needed none (a count that was already right).
        public var movement: String?
        /// For `count`: the counted quantity minus what was on hand when the count started (see
        /// ``DocumentRequest/countStartedAt``).
        public var adjustment: Int64?

        public init(sku: String, quantity: Int64, movement: String?, adjustment: Int64? = nil) {
            self.sku = sku
            self.quantity = quantity
            self.movement = movement
            self.adjustment = adjustment
        }
    }

    public var id: String
    public var type: DocumentType
    public var warehouse: String
    public var to: String?
    public var reason: String?
    public var reference: String?
    public var timestamp: HLCTimestamp
    public var user: String
    public var lines: [Line]

    public init(
        id: String, type: DocumentType, warehouse: String, to: String?, reason: String?, reference: String?,
        timestamp: HLCTimestamp, user: String, lines: [Line]
    ) {
        self.id = id
        self.type = type
        self.warehouse = warehouse
        self.to = to
        self.reason = reason
        self.reference = reference
        self.timestamp = timestamp
        self.user = user
        self.lines = lines
    }
}
