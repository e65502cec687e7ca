import CRDT

/// What the writer answers once the command's transaction committed.
public enum WriteOutcome: Hashable, Codable, Sendable {
    case product(ProductState)
    /// `duplicate` is true when the movement id had been recorded before: the original is returned unchanged.
    case movement(MovementRecord, duplicate: Bool)
    case merged(MergeReport)
    case token(TokenRecord)
    /// Members whose stored register changed.
    case members(changed: [MemberRecord])
    /// The node's catch-up state after the command (`false`: local writes are accepted).
    case catchingUp(Bool)
    /// `duplicate` is true when the document id had been recorded before: the stored document is returned.
    case document(DocumentRecord, duplicate: Bool)
    case imported(ImportReport)
    /// Certificates or a checkpoint stored: how many were new.
    case proofs(added: Int)
    /// The movements of an accept or a return of transfer lines, one per line, by SKU; `duplicate` is true when the
    /// request's id had been recorded before.
    case transferLines([MovementRecord], duplicate: Bool)
}

/// The outcome of merging a batch of remote operations.
public struct MergeReport: Hashable, Codable, Sendable {
    /// Newly applied operations.
    public var applied: Int
    /// Operations already held (duplicates or replays): no change.
    public var duplicates: Int
    /// Operations refused, with why; the others were applied regardless.
    public var refused: [Refusal]
    /// Per origin, operations not applied because no valid head of their origin covered them (see `ChainVerifier`).
    public var unproven: [Unproven] = []
    /// The physical time (milliseconds since 1970) of the newest applied operation's timestamp: when it was made
    /// at its origin. `nil` when nothing was applied.
    public var newestAppliedMilliseconds: UInt64?

    /// Counts `operations` as applied.
    mutating func noteApplied(_ operations: some Sequence<LedgerOperation>) {
        for op in operations {
            applied += 1
            let made = op.timestamp.physicalMilliseconds
            if made > newestAppliedMilliseconds ?? 0 { newestAppliedMilliseconds = made }
        }
    }

    public struct Unproven: Hashable, Codable, Sendable {
        public var origin: String
        public var count: Int
        public var reason: String
        /// The page claimed something false (a forged or tampered operation, a forged head), rather than proving
        /// too little.
        public var forgery: Bool
    }

    public struct Refusal: Hashable, Codable, Sendable {
        public var origin: String
        public var sequence: UInt64
        public var reason: String
    }

    public init(applied: Int = 0, duplicates: Int = 0, refused: [Refusal] = []) {
        self.applied = applied
        self.duplicates = duplicates
        self.refused = refused
    }
}

/// What a product import did: rows that created a product, changed one, or matched it already.
public struct ImportReport: Hashable, Codable, Sendable {
    public var created = 0
    public var updated = 0
    public var unchanged = 0

    public init(created: Int = 0, updated: Int = 0, unchanged: Int = 0) {
        self.created = created
        self.updated = updated
        self.unchanged = unchanged
    }
}
