/// Decides when a long pull from one peer is worth an info log line, so a node that starts far behind (a freshly
/// joined one) shows its progress at a bounded rate.
///
/// A pure state machine: callers pass the time (monotonic seconds) and log when told. Invariants: it never asks
/// for two lines less than ``interval`` apart, and only while the peer still holds at least ``threshold``
/// operations this node lacks; ``loggedAny`` says whether a closing line is due when the pull ends.
struct CatchUpLog: Sendable, Equatable {
    /// The least time between two progress lines.
    var interval: Double = 2
    /// Fewer operations behind than this are an ordinary round, not a catch-up.
    var threshold: UInt64 = 10_000
    private(set) var lastLoggedAt: Double?

    /// Whether anything was logged, i.e. a "caught up" line should close the pull.
    var loggedAny: Bool { lastLoggedAt != nil }

    /// After a merged page: whether to log the progress now.
    mutating func pageMerged(behind: UInt64, now: Double) -> Bool {
        guard behind >= threshold else { return false }
        if let last = lastLoggedAt, now - last < interval { return false }
        lastLoggedAt = now
        return true
    }
}
