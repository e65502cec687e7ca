/// How long to wait before trying again after failures in a row: exponential backoff with a cap and jitter.
///
/// A pure value (no clock, no randomness inside): the caller says how many failures in a row there have been and
/// passes the jitter factor, drawn from a generator it owns (`drawJitter(using:)`), so a test can pin it.
///
/// After failure `n` (1-based) the wait is `first * 2^(n-1)`, capped at `cap`, times the jitter factor in
/// `jitterRange` (`0.5...1.5`), so many nodes that share a failing peer or webhook do not retry in lockstep. The
/// doubling stops after 30 steps (2^30 times the first wait, far past any useful cap), so no count of failures
/// overflows. With `maxAttempts`, there is no wait after failure `maxAttempts`: that attempt was the last.
///
/// Used by `PeerSyncPolicy` (retries a peer forever) and `AlertWebhook` (gives up after `maxAttempts`).
public struct BackoffSchedule: Sendable, Equatable {
    /// The range a jitter factor is drawn from; factors outside it are clamped to it.
    public static let jitterRange: ClosedRange<Double> = 0.5...1.5

    /// The wait after the first failure, before jitter.
    public var first: Duration
    /// The longest wait, before jitter.
    public var cap: Duration
    /// The number of attempts after which there is no next one, or `nil` to try forever.
    public var maxAttempts: Int?

    public init(first: Duration, cap: Duration, maxAttempts: Int? = nil) {
        self.first = first
        self.cap = cap
        self.maxAttempts = maxAttempts
    }

    /// The wait before the next attempt after `failures` failures in a row, or `nil` when there is no next attempt.
    ///
    /// - Parameters:
    ///   - failures: the failures in a row so far, 1 after the first; below 1 there is nothing to wait for (`nil`).
    ///   - jitter: a factor drawn by the caller in `jitterRange`; values outside are clamped, NaN counts as 1.
    /// - Returns: `min(first * 2^min(failures - 1, 30), cap) * jitter`, or `nil` when `failures < 1` or
    ///   `failures >= maxAttempts`.
    /// - Complexity: O(1): at most 30 doublings.
    public func delay(afterFailures failures: Int, jitter: Double) -> Duration? {
        guard failures >= 1 else { return nil }
        if let maxAttempts, failures >= maxAttempts { return nil }
        var wait = first
        // Doubling saturates at the cap (`cap / 2` first), so a cap near `Duration`'s limit cannot overflow.
        for _ in 0..<min(failures - 1, 30) {
            guard wait < cap else { break }
            wait = wait < cap / 2 ? wait * 2 : cap
        }
        return min(wait, cap) * Self.clamped(jitter)
    }

    /// The wait after `failures` failures in a row, with a jitter factor drawn from `generator`.
    public func delay(afterFailures failures: Int, using generator: inout some RandomNumberGenerator) -> Duration? {
        delay(afterFailures: failures, jitter: Self.drawJitter(using: &generator))
    }

    /// A jitter factor drawn uniformly from `jitterRange` with `generator`.
    public static func drawJitter(using generator: inout some RandomNumberGenerator) -> Double {
        Double.random(in: jitterRange, using: &generator)
    }

    static func clamped(_ jitter: Double) -> Double {
        jitter.isNaN ? 1 : min(max(jitter, jitterRange.lowerBound), jitterRange.upperBound)
    }
}

extension Duration {
    /// This duration in seconds, as a `Double` (for callers whose clock counts seconds).
    var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
