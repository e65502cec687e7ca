import CRDT

/// A mutation submitted to the single writer. Codable: it travels over the ZMQ queue.
public enum WriteCommand: Hashable, Codable, Sendable {
    case createProduct(ProductDraft, actor: String)
    case updateProduct(sku: SKU, ProductPatch, actor: String)
    case deleteProduct(sku: SKU, actor: String)
    case movement(MovementRequest)
    case accept(AcceptRequest)
    /// Sets (or, with `nil`, removes) one warehouse's own reorder point for a product.
    case setReorderOverride(sku: SKU, warehouse: ReplicaID, reorderPoint: Int64?, actor: String)
    /// Operations received from peers, merged in one go; each is accepted or refused on its own.
    case merge([LedgerOperation])
    /// Adds, moves or retires a cluster member (stamped with this node's clock).
    case setMember(warehouse: String, peerURL: String, retired: Bool)
    /// Stores a new API token of this node (not replicated).
    case createToken(TokenRecord)
    /// Revokes an API token; revoking twice is harmless.
    case revokeToken(id: String, atMilliseconds: Int64)
    /// Replaces a live token's secret hash. With `previousValidUntilMilliseconds`, the old secret keeps working
    /// until then (a grace period); without, it stops at once. A revoked token cannot be rotated.
    case rotateToken(id: String, secretHash: String, atMilliseconds: Int64, previousValidUntilMilliseconds: Int64?)

    /// Ends the catch-up after a restore (see `StoreError.catchingUp`); peer sync sends it once that is proven safe.
    case finishCatchUp
    /// Membership a peer announced: `by` is the warehouse its certificate names (`nil` when the sender is not
    /// authenticated as such). Only what ``MemberAnnouncementPolicy`` allows is written.
    case announcedMembers(by: String?, [MemberRecord])
    /// A document: every line recorded as a movement of this node's warehouse, all in one savepoint, or none.
    case document(DocumentRequest)
    /// Creates or updates many products (a catalogue import): all rows or none.
    case importProducts([ProductDraft], actor: String)
    /// Operations received from a peer with the proofs of their origins: only operations a valid head of their
    /// origin covers are applied (``ChainVerifier``), the others are reported per origin in ``MergeReport/unproven``.
    case mergeSigned([LedgerOperation], PageProofs)
    /// Member certificates (their keys checked against the cluster CA by the caller), kept to verify heads.
    case addOriginCertificates([OriginCertificate])
    /// A checkpoint signed with the cluster CA key, covering the ledger written before operations were signed.
    case saveCheckpoint(ChainCheckpoint)
    /// Retirements and re-admissions signed with the cluster CA key (or a warehouse's retirement of itself, signed
    /// with its own certified key), issued here or forwarded by a peer: each one whose signature holds and which
    /// supersedes the one held is applied to the membership.
    case decideMembership([MembershipDecision])
    /// Accepts every open line of a transfer, or part of one, in one savepoint: one `accept` movement per line.
    case acceptLines(TransferLinesRequest)
    /// Sends goods in transit back to their source (the destination only): one `return` movement per line, whose
    /// lines together make one transfer back, identified by the request's id.
    case returnLines(TransferLinesRequest)

    /// Whether the command records a new operation of this node (refused while catching up).
    var issuesOperation: Bool {
        switch self {
        case .createProduct, .updateProduct, .deleteProduct, .movement, .accept, .setReorderOverride, .document,
             .importProducts, .acceptLines, .returnLines: true
        case .merge, .setMember, .createToken, .revokeToken, .rotateToken, .finishCatchUp, .announcedMembers, .mergeSigned,
             .addOriginCertificates, .saveCheckpoint, .decideMembership: false
        }
    }
}

/// The fields of a new product.
public struct ProductDraft: Hashable, Codable, Sendable {
    public var sku: SKU
    public var name: String
    public var description: String
    public var price: Price?
    public var reorderPoint: Int64?
    /// Barcodes (EAN-13, EAN-8, UPC-A); `nil` or empty: none.
    public var barcodes: [String]?

    public init(
        sku: SKU, name: String, description: String = "", price: Price? = nil, reorderPoint: Int64? = nil, barcodes: [String]? = nil
    ) {
        self.sku = sku
        self.name = name
        self.description = description
        self.price = price
        self.reorderPoint = reorderPoint
        self.barcodes = barcodes
    }
}

/// The movement types a client may post.
public enum MovementType: String, Hashable, Codable, Sendable, CaseIterable {
    case receive, sell, adjust, transfer
}

/// A receipt, sale, adjustment or outgoing transfer at this node's warehouse.
public struct MovementRequest: Hashable, Codable, Sendable {
    public var type: MovementType
    public var sku: SKU
    /// Positive for receive, sell and transfer; signed (non-zero) for adjust.
    public var quantity: Int64
    /// The destination warehouse of a transfer.
    public var to: ReplicaID?
    public var reason: String?
    public var reference: String?
    /// Idempotency key: a lowercase UUID. The writer generates none; callers do (see `MovementID`).
    public var id: String
    public var actor: String

    public init(
        type: MovementType, sku: SKU, quantity: Int64, to: ReplicaID? = nil, reason: String? = nil,
        reference: String? = nil, id: String, actor: String
    ) {
        self.type = type
        self.sku = sku
        self.quantity = quantity
        self.to = to
        self.reason = reason
        self.reference = reference
        self.id = id
        self.actor = actor
    }
}

/// Taking goods in transit into this node's warehouse, or sending them back: every open line of a transfer, or
/// part of one.
public struct TransferLinesRequest: Hashable, Codable, Sendable {
    public var transferID: String
    /// The line; `nil`: every line with goods in transit (or the only line, when `quantity` is given).
    public var sku: SKU?
    /// Defaults to everything still in transit on the line.
    public var quantity: Int64?
    /// Required for a return.
    public var reason: String?
    public var reference: String?
    /// The idempotency key: the movement id of a single line, else the seed of each line's (see
    /// ``MovementID/line(of:sku:)``); for a return, also the id of the transfer back.
    public var id: String
    public var actor: String

    public init(
        transferID: String, sku: SKU? = nil, quantity: Int64? = nil, reason: String? = nil, reference: String? = nil,
        id: String, actor: String
    ) {
        self.transferID = transferID
        self.sku = sku
        self.quantity = quantity
        self.reason = reason
        self.reference = reference
        self.id = id
        self.actor = actor
    }
}

/// Taking goods in transit into this node's warehouse.
public struct AcceptRequest: Hashable, Codable, Sendable {
    public var transferID: String
    /// Defaults to everything still in transit.
    public var quantity: Int64?
    public var reason: String?
    public var reference: String?
    public var id: String
    public var actor: String

    public init(transferID: String, quantity: Int64? = nil, reason: String? = nil, reference: String? = nil, id: String, actor: String) {
        self.transferID = transferID
        self.quantity = quantity
        self.reason = reason
        self.reference = reference
        self.id = id
        self.actor = actor
    }
}
