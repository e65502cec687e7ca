/// When this node runs its next anti-entropy round, and with which peer: a pure state machine (no clock, no I/O,
/// no randomness inside).
///
/// Live streams carry each write from its origin to every peer as it commits; anti-entropy only repairs what a
/// stream missed (a cut link, a restart, a third party's operations). So a node runs one round per interval, with
/// one peer, instead of one round per interval with every peer: the cluster's idle work grows with the number of
/// nodes, not with its square, and each peer still has a round within `interval × peers`.
///
/// - The peer is the one synced least recently (never synced first; ties by name), among those available: a peer
///   in backoff after failures is retried by its own schedule (``PeerSyncPolicy``), not by gossip, and a peer in a
///   round needs no other.
/// - Rounds are `interval × jitter` apart, the jitter drawn by the caller in `0.5...1.5`, so nodes started together
///   do not all dial at the same moment.
///
/// Invariant: `nextRound` only moves forward.
public struct GossipSchedule: Sendable, Equatable {
    /// A peer that a round could be with.
    public struct Candidate: Sendable, Equatable {
        public var peer: String
        /// When the last round with this peer succeeded (the caller's monotonic seconds); `nil` if none has.
        public var lastSuccess: Double?
        /// Not in backoff and not in a round.
        public var isAvailable: Bool

        public init(peer: String, lastSuccess: Double?, isAvailable: Bool) {
            self.peer = peer
            self.lastSuccess = lastSuccess
            self.isAvailable = isAvailable
        }
    }

    public let interval: Double
    /// When the next round is due (monotonic seconds).
    public private(set) var nextRound: Double

    /// The first round is due one interval after `now`: a node's first round with each peer, when it starts or
    /// learns of the peer, is the peer's own (``PeerSyncPolicy`` makes it due at once).
    public init(interval: Double, now: Double) {
        self.interval = interval
        nextRound = now + interval
    }

    public func isDue(now: Double) -> Bool { now >= nextRound }

    /// When a round is due: the peer to sync with (`nil` when no peer is available), and the next round scheduled
    /// `interval × jitter` later. Before then: `nil`, and nothing changes.
    public mutating func roundDue(now: Double, candidates: [Candidate], jitter: Double) -> String? {
        guard isDue(now: now) else { return nil }
        nextRound = max(nextRound, now + interval * BackoffSchedule.clamped(jitter))
        return Self.leastRecentlySynced(candidates)
    }

    /// The available peer whose last successful round is oldest (one never synced comes first; ties by name).
    static func leastRecentlySynced(_ candidates: [Candidate]) -> String? {
        candidates.filter(\.isAvailable).min { a, b in
            switch (a.lastSuccess, b.lastSuccess) {
            case (nil, nil): a.peer < b.peer
            case (nil, _): true
            case (_, nil): false
            case let (x?, y?): x != y ? x < y : a.peer < b.peer
            }
        }?.peer
    }
}
