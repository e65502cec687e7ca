import CRDT

/// Something that became true when a write transaction committed: published to listeners (live events, alert
/// webhooks, peers) only after the commit, so nobody ever hears of a change that could still be rolled back.
public enum StoreEvent: Hashable, Sendable {
    /// An operation newly held here, local or merged.
    case operation(LedgerOperation)
    case alertRaised(AlertRecord)
    case alertCleared(sku: String, warehouse: String)
}
