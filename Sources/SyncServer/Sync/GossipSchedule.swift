/// When this node runs its next anti-entropy round, and with which peer: a pure state machine (no clock, no I/O,
/// no randomness inside).
///
/// Live streams carry each write from its origin to every peer as it commits; anti-entropy only repairs what a
/// stream missed (a cut link, a restart, a third party's operations). So a node runs one round per interval, with
/// one peer, instead of one round per interval with every peer: the cluster's idle work grows with the number of
/// nodes, not with its square, and each peer still has a round within `interval × peers`.
///
/// - The peer is the next one after the last chosen, in the ring of names (sorted, wrapping), starting after this
///   node's own name; a peer never synced comes first. Among those available only: a peer in backoff after
///   failures is retried by its own schedule (``PeerSyncPolicy``), not by gossip, and a peer in a round needs no
///   other.
/// - Why a ring and not "the peer synced least recently": every node meets its peers in the same order when it
///   joins, so every node's least recently synced peer is the same one, and each interval one node would serve
///   the rounds of all the others. Starting from its own place in the ring, node `i` dials `i + k` at its `k`-th
///   round, so with every node in step each node serves one round per interval.
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
    /// Where the ring was left: the peer of the last round chosen, or this node's own name before the first.
    public private(set) var cursor: String

    /// The first round is due one interval after `now`: a node's first round with each peer, when it starts or
    /// learns of the peer, is the peer's own (``PeerSyncPolicy`` makes it due at once).
    ///
    /// - Parameter own: this node's name, where its walk round the ring starts.
    public init(interval: Double, now: Double, own: String) {
        self.interval = interval
        nextRound = now + interval
        cursor = own
    }

    public func isDue(now: Double) -> Bool { now >= nextRound }

    /// When a round is due: the peer to sync with (`nil` when no peer is available), and the next round scheduled
    /// `interval × jitter` later. Before then: `nil`, and nothing changes.
    public mutating func roundDue(now: Double, candidates: [Candidate], jitter: Double) -> String? {
        guard isDue(now: now) else { return nil }
        nextRound = max(nextRound, now + interval * BackoffSchedule.clamped(jitter))
        guard let chosen = Self.next(after: cursor, in: candidates) else { return nil }
        cursor = chosen
        return chosen
    }

    /// The first available peer after `cursor` in the ring of names, one never synced before any other.
    static func next(after cursor: String, in candidates: [Candidate]) -> String? {
        let available = candidates.filter(\.isAvailable)
        let pool = available.contains { $0.lastSuccess == nil } ? available.filter { $0.lastSuccess == nil } : available
        let names = pool.map(\.peer).sorted()
        return names.first { $0 > cursor } ?? names.first
    }
}
