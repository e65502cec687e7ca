/// When failed token checks stop being answered with 401 and start being refused with 429: a pure state machine,
/// fed the time by its caller.
///
/// The rule: a client address or a token id with `limit` failed checks within one `window` (counted from its first
/// failure) is throttled until that window ends: its failed checks are answered 429 with `Retry-After` instead of
/// 401, and are no longer logged one by one (one line says the throttling started).
///
/// Only failures are throttled. A valid token is never refused nor slowed, even from a throttled address or for a
/// throttled token id: many tills may share one address behind a router, and token ids appear in logs, so refusing
/// valid tokens would let one misconfigured client, or anyone who read an id, lock others out. With 192-bit secrets
/// guessing is hopeless anyway: the point is to make a flood visible and tell its client to stop.
///
/// Memory is bounded: at most `capacity` keys are tracked; past it, keys whose window ended are dropped, then the
/// oldest windows.
public struct AuthThrottle: Sendable {
    public struct Policy: Sendable, Equatable {
        /// Failed checks within one window that throttle their address or token id.
        public var limit: Int
        /// Milliseconds.
        public var window: Int64
        /// Keys tracked at most.
        public var capacity: Int

        public init(limit: Int = 10, window: Int64 = 60_000, capacity: Int = 10_000) {
            self.limit = limit
            self.window = window
            self.capacity = capacity
        }
    }

    /// What a failed check was counted against.
    public enum Key: Hashable, Sendable {
        case address(String)
        case token(String)
    }

    /// What to answer a failed check.
    public enum Verdict: Equatable, Sendable {
        /// 401; `failures` so far in this window (the larger of address and token id); `started` names the keys this
        /// very failure throttled (log them once).
        case unauthorized(failures: Int, started: [Key])
        /// 429 for `retryAfter` seconds (rounded up): a key was throttled before this failure.
        case throttled(retryAfter: Int64)
    }

    struct Window: Sendable {
        var start: Int64
        var failures: Int
    }

    public let policy: Policy
    private(set) var windows: [Key: Window] = [:]

    public init(policy: Policy = Policy()) { self.policy = policy }

    /// Counts a failed check from `address` with `tokenID` (when the token was well-formed enough to name one).
    public mutating func fail(address: String, tokenID: String?, now: Int64) -> Verdict {
        if windows.count >= policy.capacity { prune(now: now) }
        let keys = [Key.address(address)] + (tokenID.map { [Key.token($0)] } ?? [])
        // A key throttled already stays so, uncounted, until its window ends.
        if let wait = keys.compactMap({ retryAfter($0, now: now) }).max() { return .throttled(retryAfter: wait) }
        var started: [Key] = []
        var most = 0
        for key in keys {
            var window = windows[key].flatMap { now < $0.start + policy.window ? $0 : nil } ?? Window(start: now, failures: 0)
            window.failures += 1
            windows[key] = window
            most = max(most, window.failures)
            if window.failures == policy.limit { started.append(key) }
        }
        return .unauthorized(failures: most, started: started)
    }

    private func retryAfter(_ key: Key, now: Int64) -> Int64? {
        guard let window = windows[key], window.failures >= policy.limit else { return nil }
        let end = window.start + policy.window
        guard now < end else { return nil }
        return (end - now + 999) / 1_000
    }

    /// Drops ended windows; if that is not enough, the oldest half.
    private mutating func prune(now: Int64) {
        windows = windows.filter { now < $0.value.start + policy.window }
        guard windows.count >= policy.capacity else { return }
        let oldest = windows.sorted { $0.value.start < $1.value.start }.prefix(windows.count / 2).map(\.key)
        for key in oldest { windows[key] = nil }
    }

    /// Every tracked window holds at least one failure, and none more than the limit.
    func checkInvariants() -> Bool {
        windows.values.allSatisfy { (1...policy.limit).contains($0.failures) } && windows.count <= policy.capacity
    }
}
