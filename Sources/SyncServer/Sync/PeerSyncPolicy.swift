/// When to sync with one peer: a pure state machine (no clock, no I/O, no randomness inside).
///
/// - A trigger (a local commit, `inv sync`) makes a round due at once, unless the peer is in backoff.
/// - After a successful round the next is due after the anti-entropy interval; with an interval of `.infinity`
///   only a trigger makes one due (a node's ``GossipSchedule`` picks the peer of each anti-entropy round and
///   triggers it).
/// - After a failed round the next waits as `backoff` says (a `BackoffSchedule`: `first * 2^(failures-1)`, capped,
///   times a jitter factor the caller draws in `0.5...1.5`), so many nodes do not retry a returning peer in lockstep.
/// - A forced round (`inv sync`) ignores backoff.
/// - Rounds start at least `minRoundSpacing` apart: a lone commit after a quiet spell is pushed at once, while a
///   stream of commits is pushed in batches, at most one round per spacing (each round costs a hello, a pull and
///   a push on both nodes).
/// - A trigger that arrives while a round runs is kept: the round may have read what it sends before the trigger's
///   commit, so another round follows at once instead of at the next anti-entropy interval.
///
/// Invariant: `failures == 0` exactly when the last finished round succeeded (or none has run).
public struct PeerSyncPolicy: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        case syncNow
        /// Wait until this time (seconds, on the caller's monotonic clock) or until the next trigger.
        case waitUntil(Double)
    }

    public var antiEntropyInterval: Double
    /// The wait after failures in a row; it has no `maxAttempts`: a peer is tried again forever.
    public var backoff: BackoffSchedule
    public var minRoundSpacing: Double
    public private(set) var lastRoundStart: Double?
    public private(set) var failures = 0
    public private(set) var nextDue: Double
    public private(set) var lastSuccess: Double?
    public private(set) var roundInProgress = false
    private var triggeredDuringRound = false
    private var forcedDuringRound = false

    public init(
        antiEntropyInterval: Double = 10, backoff: BackoffSchedule = Self.defaultBackoff, minRoundSpacing: Double = 0.05,
        now: Double
    ) {
        self.antiEntropyInterval = antiEntropyInterval
        self.backoff = backoff
        self.minRoundSpacing = minRoundSpacing
        nextDue = now
    }

    /// 0.5 s doubling up to 30 s, retried forever.
    public static let defaultBackoff = BackoffSchedule(first: .milliseconds(500), cap: .seconds(30))

    public var isReachable: Bool { failures == 0 && lastSuccess != nil }

    public func nextAction(now: Double) -> Action {
        let due = max(nextDue, (lastRoundStart ?? -.infinity) + minRoundSpacing)
        return now >= due ? .syncNow : .waitUntil(due)
    }

    /// Something changed here: sync soon. A peer in backoff keeps its backoff (a local write must not hammer a
    /// down peer); `force` overrides that.
    public mutating func trigger(now: Double, force: Bool = false) {
        guard force || failures == 0 else { return }
        nextDue = min(nextDue, now)
        if roundInProgress {
            triggeredDuringRound = true
            forcedDuringRound = forcedDuringRound || force
        }
    }

    /// A round begins: it covers every trigger before this point.
    public mutating func roundStarted(now: Double) {
        lastRoundStart = now
        roundInProgress = true
        triggeredDuringRound = false
        forcedDuringRound = false
    }

    public mutating func roundSucceeded(now: Double) {
        failures = 0
        lastSuccess = now
        nextDue = triggeredDuringRound ? now : now + antiEntropyInterval
        roundEnded()
    }

    /// - Parameter jitter: a factor in `BackoffSchedule.jitterRange` (`0.5...1.5`) drawn by the caller.
    public mutating func roundFailed(now: Double, jitter: Double) {
        failures += 1
        // `backoff` has no attempt limit, so there is always a next wait; a schedule given one waits its cap.
        let delay = (backoff.delay(afterFailures: failures, jitter: jitter) ?? backoff.cap * BackoffSchedule.clamped(jitter)).inSeconds
        // A forced round asked for during a failing one is still owed to whoever forced it.
        nextDue = forcedDuringRound ? now : now + delay
        roundEnded()
    }

    private mutating func roundEnded() {
        roundInProgress = false
        triggeredDuringRound = false
        forcedDuringRound = false
    }
}
