/// Decides when a node restored from a backup may issue operations again. Pure: no I/O, tested without sockets.
///
/// The danger: the restored ledger may lack operations of this node (dots `(me, s)`) made after the backup. Those
/// that reached another member before the old database was lost still exist there. Issuing a new operation
/// `(me, s)` while one exists elsewhere would give one dot two meanings (replicas diverge for ever), and selling
/// from a counter that lacks the later sales could take stock below zero.
///
/// The rule: writes resume once, since the restore, a sync round with **every** active member (not retired, not
/// this node) completed its pull phase, and after it this node held every operation of its own origin that the
/// member had announced (its version-vector entry for this node is at most ours).
///
/// Why that is enough: this node's old process is gone, so no new `(me, s)` appears anywhere; copies only move
/// between members, and a member never drops an operation (the ledger is append-only). An operation `(me, s)`
/// present on some member at the restore is therefore still on that member when our pull from it completes, and a
/// completed pull brings every operation we lack. So, once every member has been pulled from, this node holds
/// every operation of its own that survives anywhere; the applier then issues sequences above the highest one
/// (`nextSequence`), and its own counter entries are the pointwise maxima of every surviving movement. Operations
/// that never left the lost database are lost with it; no member holds them, so their numbers can be reused
/// without any replica seeing two meanings (their goods must be recounted by hand).
///
/// Why not one member: another, unreachable member may hold newer operations of ours than the reachable one (the
/// old node pushed to it last). Waiting for every member is the price; a member that is gone for good is retired
/// (`inv peer remove`), which removes it from the rule and from the cluster. A node with no other member writes at
/// once.
public struct CatchUpGuard: Sendable, Equatable {
    /// This node's warehouse.
    public let me: String
    /// Members whose pull completed, with all of our operations they announced held here afterwards.
    public private(set) var caughtUpWith: Set<String> = []

    public init(me: String) { self.me = me }

    /// Records a sync round with `peer` whose pull phase completed.
    ///
    /// - Parameters:
    ///   - peerHolds: the peer's version-vector entry for this node, as it announced it in the round.
    ///   - weHold: this node's entry for itself after the pull.
    public mutating func pullCompleted(with peer: String, peerHolds: UInt64, weHold: UInt64) {
        guard peer != me, peerHolds <= weHold else { return }
        caughtUpWith.insert(peer)
    }

    /// Whether every active member other than this node has been caught up with.
    ///
    /// - Parameter activeMembers: the warehouses of the current membership that are not retired.
    public func isSatisfied(activeMembers: Set<String>) -> Bool {
        activeMembers.subtracting([me]).isSubset(of: caughtUpWith)
    }

    /// The active members still to be caught up with, sorted (for the log).
    public func waitingFor(activeMembers: Set<String>) -> [String] {
        activeMembers.subtracting([me]).subtracting(caughtUpWith).sorted()
    }
}
