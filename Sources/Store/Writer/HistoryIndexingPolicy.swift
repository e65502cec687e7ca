/// When the single writer indexes the history backlog (see `LedgerIndexes`), and how much at a time.
///
/// Pure: the writer reports its commits, its idle moments and each batch's outcome, with the time; nothing here
/// touches the database or a clock. Rules:
/// - an idle-time batch starts only after ``quietPeriod`` without a commit: a catch-up's pages arrive a few
///   milliseconds apart, and a batch started in such a gap held the next page back for the batch's whole length
///   (a fifth of a catch-up's time went to indexing batches interleaved with its merges);
/// - while batches remain (`owed`), the writer polls for requests without waiting once the quiet period is over, and
///   indexes a batch whenever none is waiting, so requests always go first;
/// - otherwise it looks at the backlog when idle, at most every ``checkInterval``, and only if operations were
///   committed since it last looked (a merge may have added some): an idle node runs no indexing transaction, and
///   its writer's poll waits for the next request without a timeout;
/// - once about `backlogLimit` operations wait, it indexes after each commit even when requests keep coming, at least
///   what exceeds the limit, so a node that is never idle cannot grow its backlog for ever;
/// - a failed batch is retried after ``retryDelay``; with `batch == 0` the backlog is left alone.
struct HistoryIndexingPolicy {
    static let checkInterval: UInt64 = 200_000_000
    static let retryDelay: UInt64 = 5_000_000_000
    static let quietPeriod: UInt64 = 250_000_000

    /// Operations per idle-time batch; 0 turns indexing off.
    let batch: Int
    let backlogLimit: Int
    /// Batches remain: poll without waiting.
    private(set) var owed: Bool
    /// An estimate of the operations waiting: counted up by commits, down by batches, reset when none remain.
    private(set) var unindexed: Int
    private var nextCheck: UInt64 = 0
    /// Operations were committed since the last look at the backlog (or a look failed): the next idle moment
    /// after `nextCheck` looks again. True at start.
    private var committedSinceLook = true
    /// No idle-time batch before this instant (the last commit plus ``quietPeriod``).
    private var quietUntil: UInt64 = 0

    init(batch: Int, backlogLimit: Int, unindexed: Int) {
        self.batch = batch
        self.backlogLimit = backlogLimit
        self.unindexed = unindexed
        owed = batch > 0
    }

    /// How long the writer's poll for requests may wait: while batches are owed, until the quiet period ends; when
    /// the backlog is to be looked at, until it may be; otherwise `nil`, until a request arrives (an idle writer
    /// wakes for nothing).
    func pollTimeoutMilliseconds(now: UInt64) -> Int? {
        guard batch > 0 else { return nil }
        let until: UInt64
        if owed {
            until = quietUntil
        } else if committedSinceLook {
            until = max(quietUntil, nextCheck)
        } else {
            return nil
        }
        // Rounded up: a wait that ends just before `until` would find nothing to do and wait again.
        return now >= until ? 0 : Int((until - now + 999_999) / 1_000_000)
    }

    mutating func committed(operations: Int, now: UInt64) {
        unindexed += operations
        if operations > 0 { committedSinceLook = true }
        quietUntil = now + Self.quietPeriod
    }

    /// The batch to index now that no request is waiting, or `nil`.
    func batchWhenIdle(now: UInt64) -> Int? {
        guard batch > 0, now >= quietUntil, owed || (committedSinceLook && now >= nextCheck) else { return nil }
        return batch
    }

    /// The batch to index right after a commit, or `nil` below the limit.
    func batchAfterCommit() -> Int? {
        guard batch > 0, unindexed >= backlogLimit else { return nil }
        return max(batch, unindexed - backlogLimit)
    }

    /// A batch of `size` was indexed; `more` says whether backlog remains.
    mutating func indexed(_ size: Int, more: Bool, now: UInt64) {
        owed = more
        unindexed = more ? max(0, unindexed - size) : 0
        nextCheck = now + Self.checkInterval
        committedSinceLook = false
    }

    mutating func failed(now: UInt64) {
        owed = false
        nextCheck = now + Self.retryDelay
        committedSinceLook = true
    }
}
