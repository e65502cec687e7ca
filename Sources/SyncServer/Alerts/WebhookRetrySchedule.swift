/// When an alert webhook is tried again: a pure schedule (no clock, no randomness inside; the caller draws the
/// jitter).
///
/// Attempt 1 is immediate. After failed attempt `n` (1-based) the next waits `firstDelay * 2^(n-1)`, capped at
/// `maxDelay`, times a jitter factor in `0.5...1.5`, so nodes that share a failing webhook do not retry in lockstep.
/// After `maxAttempts` failures there is no next attempt.
public struct WebhookRetrySchedule: Sendable, Equatable {
    public var maxAttempts: Int
    public var firstDelay: Duration
    public var maxDelay: Duration

    public init(maxAttempts: Int = 8, firstDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(30)) {
        self.maxAttempts = maxAttempts
        self.firstDelay = firstDelay
        self.maxDelay = maxDelay
    }

    /// The wait before the attempt after failed attempt `attempt`, or `nil` when that was the last one.
    ///
    /// - Parameter jitter: drawn by the caller in `0.5...1.5`; values outside are clamped, NaN counts as 1.
    public func delay(afterFailedAttempt attempt: Int, jitter: Double) -> Duration? {
        guard attempt >= 1, attempt < maxAttempts else { return nil }
        var base = firstDelay
        for _ in 1..<attempt where base < maxDelay { base = base * 2 }
        let factor = jitter.isNaN ? 1 : min(max(jitter, 0.5), 1.5)
        return min(base, maxDelay) * factor
    }
}
