import CRDT

/// One entry of the replicated, append-only movement ledger: the unit of replication.
///
/// An operation is identified by its dot `(origin, sequence)`; sequences of an origin are dense from 1. It carries
/// the *delta-state* of the CRDTs it touches, not an instruction to replay:
/// - `counter` is the origin's whole PN-counter entry for `(sku, warehouse)` after the operation, so applying it is a
///   pointwise max, which is idempotent, commutative and associative;
/// - `transfer` carries a transfer line's shipped quantity (set once, by its source) or the destination's cumulative
///   accepted or returned quantity (a max as well); a return also carries `transferBack`, the transfer back to the
///   source of what the destination would not accept;
/// - `product` is a patch of LWW fields stamped with `timestamp` and `origin`.
/// Hence the materialised state is a function of the *set* of operations held, whatever their arrival order.
public struct LedgerOperation: Hashable, Codable, Sendable {
    public var origin: ReplicaID
    public var sequence: UInt64
    public var timestamp: HLCTimestamp
    public var kind: OperationKind
    public var sku: SKU
    /// The client-visible movement id (a lowercase UUID) of a movement; `nil` for product operations.
    public var movementID: String?
    /// The warehouse whose stock this operation changes.
    public var warehouse: ReplicaID?
    /// The signed change of `warehouse`'s stock; 0 for product operations.
    public var delta: Int64
    /// The origin's PN-counter entry for `(sku, warehouse)` after this operation.
    public var counter: PNCounter.Entry?
    public var transfer: TransferDelta?
    /// For a return: the line of the transfer back to the source that it ships (its id is the return's transfer
    /// back, shipped from the destination to the original source).
    public var transferBack: TransferDelta?
    public var product: ProductPatch?
    /// Who did it: the user (token name) the origin node authenticated.
    public var actor: String
    public var reason: String?
    public var reference: String?
    /// For product operations: the version vector the origin held when it made the change (its causal context),
    /// so a merge can tell a concurrent overwrite from a later one.
    public var context: VersionVector?
    /// For a line of a document (a delivery, a sale, a transfer, a stocktake): the document's id, so every node's
    /// history and reports can tell which document a movement belongs to. `nil` for a movement made on its own.
    public var document: String?

    public init(
        origin: ReplicaID, sequence: UInt64, timestamp: HLCTimestamp, kind: OperationKind, sku: SKU,
        movementID: String? = nil, warehouse: ReplicaID? = nil, delta: Int64 = 0, counter: PNCounter.Entry? = nil,
        transfer: TransferDelta? = nil, product: ProductPatch? = nil, actor: String, reason: String? = nil,
        reference: String? = nil, context: VersionVector? = nil, transferBack: TransferDelta? = nil, document: String? = nil
    ) {
        self.origin = origin
        self.sequence = sequence
        self.timestamp = timestamp
        self.kind = kind
        self.sku = sku
        self.movementID = movementID
        self.warehouse = warehouse
        self.delta = delta
        self.counter = counter
        self.transfer = transfer
        self.transferBack = transferBack
        self.product = product
        self.actor = actor
        self.reason = reason
        self.reference = reference
        self.context = context
        self.document = document
    }

    public var dot: Dot { Dot(origin: origin, sequence: sequence) }

    /// The encoding version this operation needs: 1 for every operation a node before multi-line transfers could
    /// record (so their stored bodies, and the chain hashes over them, never change), 2 for a return and for a line
    /// of a multi-line transfer (or its acceptance), which such a node would misread, 3 for a line of a document,
    /// which a node before document ids travelled would take without its document.
    public var encodingVersion: UInt8 {
        if document != nil { return 3 }
        return kind == .transferReturn || transferBack != nil || transfer?.isLine == true || transfer?.returned != nil ? 2 : 1
    }

    /// The highest sequence an operation may carry, and so the highest entry of a version vector that means
    /// anything here.
    ///
    /// Sequences are stored as SQLite integers (signed 64-bit), and the writer looks one past the highest held:
    /// with every sequence at most `Int64.max - 1`, no conversion or `+ 1` on a stored or received sequence can
    /// trap. A peer naming a higher one is refused (a page decoder, the sync routes), never converted.
    public static let maxSequence = UInt64(Int64.max) - 1

    /// The highest timestamp an operation may carry: timestamps are stored as signed 64-bit integers too.
    public static let maxTimestamp = UInt64(Int64.max)
}

/// The state of one transfer line `(id, sku)` an operation carries (the SKU is the operation's).
///
/// `shipped` is set once, by the source; `accepted` and `returned` are cumulative and set only by the destination,
/// so each merges by max and the destination alone keeps `accepted + returned <= shipped`.
public struct TransferDelta: Hashable, Codable, Sendable {
    public var id: String
    public var from: ReplicaID
    public var to: ReplicaID
    /// Set by the `transfer` operation of the source warehouse.
    public var shipped: Int64?
    /// The destination's cumulative accepted quantity after an `accept` operation.
    public var accepted: Int64?
    /// The destination's cumulative returned quantity after a `return` operation.
    public var returned: Int64?
    /// Whether the transfer may hold several lines under its id (a transfer document, or a return's transfer
    /// back): such operations are encoded in version 2, which a node keyed by transfer id alone refuses.
    public var isLine: Bool

    public init(
        id: String, from: ReplicaID, to: ReplicaID, shipped: Int64? = nil, accepted: Int64? = nil, returned: Int64? = nil,
        isLine: Bool = false
    ) {
        self.id = id
        self.from = from
        self.to = to
        self.shipped = shipped
        self.accepted = accepted
        self.returned = returned
        self.isLine = isLine
    }

    private enum CodingKeys: String, CodingKey { case id, from, to, shipped, accepted, returned, isLine }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        from = try container.decode(ReplicaID.self, forKey: .from)
        to = try container.decode(ReplicaID.self, forKey: .to)
        shipped = try container.decodeIfPresent(Int64.self, forKey: .shipped)
        accepted = try container.decodeIfPresent(Int64.self, forKey: .accepted)
        returned = try container.decodeIfPresent(Int64.self, forKey: .returned)
        isLine = try container.decodeIfPresent(Bool.self, forKey: .isLine) ?? false
    }
}
