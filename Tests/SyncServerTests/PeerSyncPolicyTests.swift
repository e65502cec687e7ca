import Foundation
import SyncServer
import Testing

/// `PeerSyncPolicy` is a pure state machine: every test drives it with hand-picked times (seconds on a fake
/// monotonic clock) and checks the action it returns. No sockets, no sleeping.
@Suite("PeerSyncPolicy: when to sync with one peer")
struct PeerSyncPolicyTests {
    /// The delay before the retry after the `failures`-th failure in a row, with a neutral jitter of 1 (the
    /// documented rule, in seconds, independent of `BackoffSchedule`).
    static func backoff(base: Double, cap: Double, failures: Int) -> Double {
        min(base * pow(2, Double(min(failures - 1, 30))), cap)
    }

    /// A policy whose backoff starts at `base` seconds and is capped at `cap` seconds.
    static func schedule(base: Double, cap: Double) -> BackoffSchedule {
        BackoffSchedule(first: .seconds(base), cap: .seconds(cap))
    }

    @Test("a new policy syncs at once and is not yet reachable")
    func initialState() {
        let policy = PeerSyncPolicy(now: 100)
        #expect(policy.nextAction(now: 100) == .syncNow)
        #expect(policy.nextAction(now: 99.5) == .waitUntil(100))
        #expect(policy.failures == 0)
        #expect(policy.lastSuccess == nil)
        #expect(policy.nextDue == 100)
        #expect(!policy.isReachable, "no round has succeeded yet")
        #expect(policy.antiEntropyInterval == 10, "the documented default")
        #expect(policy.backoff == BackoffSchedule(first: .milliseconds(500), cap: .seconds(30), maxAttempts: nil), "the documented defaults")
    }

    @Test("with an infinite interval only a trigger makes a round due after a success; a failure still retries")
    func roundsOnlyWhenTriggered() {
        var policy = PeerSyncPolicy(antiEntropyInterval: .infinity, now: 0)
        #expect(policy.nextAction(now: 0) == .syncNow, "the first round runs at once")
        policy.roundStarted(now: 0)
        policy.roundSucceeded(now: 1)
        #expect(policy.nextAction(now: 1_000_000) == .waitUntil(.infinity))
        policy.trigger(now: 2_000_000)
        #expect(policy.nextAction(now: 2_000_000) == .syncNow)
        policy.roundStarted(now: 2_000_000)
        policy.roundFailed(now: 2_000_001, jitter: 1)
        #expect(policy.nextAction(now: 2_000_001) == .waitUntil(2_000_001.5), "backoff applies as before")
        policy.roundStarted(now: 2_000_001.5)
        policy.roundSucceeded(now: 2_000_002)
        #expect(policy.nextAction(now: 3_000_000) == .waitUntil(.infinity))
    }

    @Test("after a success the next round is due one anti-entropy interval later; a trigger brings it forward")
    func successThenTrigger() {
        var policy = PeerSyncPolicy(antiEntropyInterval: 7, now: 0)
        policy.roundSucceeded(now: 3)
        #expect(policy.isReachable)
        #expect(policy.lastSuccess == 3)
        #expect(policy.nextAction(now: 3) == .waitUntil(10))
        #expect(policy.nextAction(now: 9.999) == .waitUntil(10))
        #expect(policy.nextAction(now: 10) == .syncNow)

        // A local commit at 5 makes the round due at once.
        policy.trigger(now: 5)
        #expect(policy.nextAction(now: 5) == .syncNow)
        #expect(policy.nextDue == 5)

        // A later trigger never postpones a round that is already due.
        policy.trigger(now: 8)
        #expect(policy.nextDue == 5)
        #expect(policy.nextAction(now: 8) == .syncNow)
    }

    @Test("a trigger during a round is kept: the next round is due when it ends, not an interval later")
    func triggerDuringARoundIsKept() {
        var policy = PeerSyncPolicy(antiEntropyInterval: 7, now: 0)
        // No trigger while the round ran: the next one waits for the interval.
        policy.roundStarted(now: 0)
        policy.roundSucceeded(now: 1)
        #expect(policy.nextAction(now: 1) == .waitUntil(8))

        // A commit at 9, while the round that started at 8 runs: due again at once when it ends at 10.
        #expect(policy.nextAction(now: 8) == .syncNow)
        policy.roundStarted(now: 8)
        #expect(policy.roundInProgress)
        policy.trigger(now: 9)
        policy.roundSucceeded(now: 10)
        #expect(!policy.roundInProgress)
        #expect(policy.nextAction(now: 10) == .syncNow)

        // That follow-up round sees no trigger: back to the interval.
        policy.roundStarted(now: 10)
        policy.roundSucceeded(now: 11)
        #expect(policy.nextAction(now: 11) == .waitUntil(18))
    }

    @Test("rounds start at least the minimum spacing apart: a lone trigger goes at once, a stream is batched")
    func roundSpacing() {
        var policy = PeerSyncPolicy(antiEntropyInterval: 10, minRoundSpacing: 0.05, now: 0)
        policy.roundStarted(now: 0)
        policy.roundSucceeded(now: 0.004)
        // A commit right after the round: due, but not before 0.05.
        policy.trigger(now: 0.01)
        #expect(policy.nextAction(now: 0.01) == .waitUntil(0.05))
        #expect(policy.nextAction(now: 0.05) == .syncNow)
        policy.roundStarted(now: 0.05)
        policy.roundSucceeded(now: 0.053)
        // A commit after a quiet spell: at once.
        policy.trigger(now: 3)
        #expect(policy.nextAction(now: 3) == .syncNow)
    }

    @Test("a failing round keeps its backoff for a plain trigger, but owes a forced one a round at once")
    func triggerDuringAFailingRound() {
        var policy = PeerSyncPolicy(antiEntropyInterval: 7, backoff: Self.schedule(base: 2, cap: 30), now: 0)
        policy.roundStarted(now: 0)
        policy.trigger(now: 0.5)
        policy.roundFailed(now: 1, jitter: 1)
        #expect(policy.nextAction(now: 1) == .waitUntil(3))

        policy.roundStarted(now: 3)
        policy.trigger(now: 3.5, force: true)
        policy.roundFailed(now: 4, jitter: 1)
        #expect(policy.nextAction(now: 4) == .syncNow)
        #expect(policy.failures == 2)
    }

    @Test("failures back off exponentially from the base, capped at the maximum")
    func backoffGrowthAndCap() {
        var policy = PeerSyncPolicy(antiEntropyInterval: 10, backoff: Self.schedule(base: 0.5, cap: 30), now: 0)
        var now = 0.0
        var delays: [Double] = []
        for _ in 1...12 {
            policy.roundFailed(now: now, jitter: 1)
            delays.append(policy.nextDue - now)
            now = policy.nextDue
        }
        #expect(delays == [0.5, 1, 2, 4, 8, 16, 30, 30, 30, 30, 30, 30])
        #expect(policy.failures == 12)
        #expect(!policy.isReachable)
    }

    @Test("the exponent stops growing: thousands of failures neither overflow nor pass the cap")
    func manyFailures() {
        var policy = PeerSyncPolicy(backoff: BackoffSchedule(first: .nanoseconds(1), cap: .seconds(1_000_000_000)), now: 0)
        for _ in 0..<5_000 { policy.roundFailed(now: 0, jitter: 1) }
        #expect(policy.failures == 5_000)
        // min(failures - 1, 30): the delay stays at base * 2^30 (here below the cap), finite and positive.
        #expect(abs(policy.nextDue - 1e-9 * Double(1 << 30)) < 1e-15)
        #expect(policy.nextDue.isFinite && policy.nextDue > 0)
    }

    @Test("a custom base and cap are used", arguments: [(0.25, 2.0), (1.0, 5.0), (3.0, 3.0), (10.0, 60.0)])
    func customBaseAndCap(base: Double, cap: Double) {
        var policy = PeerSyncPolicy(backoff: Self.schedule(base: base, cap: cap), now: 50)
        for failures in 1...10 {
            policy.roundFailed(now: 50, jitter: 1)
            #expect(policy.nextDue - 50 == Self.backoff(base: base, cap: cap, failures: failures), "after \(failures) failures")
            #expect(policy.nextDue - 50 <= cap)
        }
    }

    @Test("jitter scales the delay by 0.5...1.5; values outside are clamped to that range")
    func jitterBounds() {
        for (jitter, factor) in [(0.5, 0.5), (1.5, 1.5), (0.75, 0.75), (0.0, 0.5), (-3.0, 0.5), (2.0, 1.5), (100.0, 1.5),
                                 (Double.infinity, 1.5), (-Double.infinity, 0.5), (Double.nan, 1.0)] {
            for failures in [1, 3, 8] {
                var policy = PeerSyncPolicy(backoff: Self.schedule(base: 0.5, cap: 30), now: 0)
                for _ in 1..<failures { policy.roundFailed(now: 0, jitter: 1) }
                policy.roundFailed(now: 1_000, jitter: jitter)
                let expected = Self.backoff(base: 0.5, cap: 30, failures: failures) * factor
                #expect(abs((policy.nextDue - 1_000) - expected) < 1e-9, "jitter \(jitter), \(failures) failures")
            }
        }
    }

    @Test("random jitter: every delay lies within [0.5, 1.5] x the capped backoff, and never beyond 1.5 x the cap")
    func randomJitterStaysInBounds() {
        let seed = SplitMix64.testSeed()
        var random = SplitMix64(seed: seed)
        var policy = PeerSyncPolicy(backoff: Self.schedule(base: 0.5, cap: 30), now: 0)
        var now = 0.0
        for round in 0..<2_000 {
            if Double.random(in: 0..<1, using: &random) < 0.1 {
                policy.roundSucceeded(now: now)
                #expect(policy.failures == 0)
                continue
            }
            let jitter = Double.random(in: 0.5...1.5, using: &random)
            policy.roundFailed(now: now, jitter: jitter)
            let nominal = Self.backoff(base: 0.5, cap: 30, failures: policy.failures)
            let delay = policy.nextDue - now
            #expect(delay >= nominal * 0.5 - 1e-9 && delay <= nominal * 1.5 + 1e-9, "seed \(seed), round \(round): \(delay) vs \(nominal)")
            #expect(delay <= 30 * 1.5 + 1e-9, "seed \(seed), round \(round)")
            now += delay
        }
    }

    @Test("a trigger during backoff keeps the backoff; a forced one (inv sync) ignores it")
    func triggerVersusForce() {
        var policy = PeerSyncPolicy(now: 0)
        policy.roundFailed(now: 10, jitter: 1)
        policy.roundFailed(now: 10.5, jitter: 1)
        #expect(policy.nextDue == 11.5)
        policy.trigger(now: 10.6)
        #expect(policy.nextAction(now: 10.6) == .waitUntil(11.5), "a local write must not hammer a down peer")
        policy.trigger(now: 10.7, force: true)
        #expect(policy.nextAction(now: 10.7) == .syncNow)
        #expect(policy.nextDue == 10.7)
        #expect(policy.failures == 2, "forcing a round does not forget the failures")

        // Forcing never postpones either.
        policy.trigger(now: 11, force: true)
        #expect(policy.nextDue == 10.7)
    }

    @Test("a success resets the failures: the next failure starts again from the base delay")
    func successResets() {
        var policy = PeerSyncPolicy(antiEntropyInterval: 10, backoff: Self.schedule(base: 0.5, cap: 30), now: 0)
        for _ in 0..<9 { policy.roundFailed(now: 0, jitter: 1) }
        #expect(policy.nextDue == 30)
        policy.roundSucceeded(now: 40)
        #expect(policy.failures == 0)
        #expect(policy.isReachable)
        #expect(policy.nextDue == 50)
        policy.roundFailed(now: 41, jitter: 1)
        #expect(policy.nextDue == 41.5, "back to the base delay")
        #expect(!policy.isReachable)
        #expect(policy.lastSuccess == 40, "the last success is remembered through later failures")
        // Triggers work again once the peer answers.
        policy.roundSucceeded(now: 42)
        policy.trigger(now: 43)
        #expect(policy.nextAction(now: 43) == .syncNow)
    }

    /// Random walks over every input, checked against a model of the documented rules.
    @Test("random walks agree with a model of the documented rules")
    func modelBased() {
        let seed = SplitMix64.testSeed()
        var random = SplitMix64(seed: seed)
        for walk in 0..<200 {
            let interval = Double(Int.random(in: 1...20, using: &random))
            let base = [0.1, 0.5, 1, 2][Int.random(in: 0..<4, using: &random)]
            let cap = base * Double(Int.random(in: 1...100, using: &random))
            var now = Double(Int.random(in: 0...1_000, using: &random))
            var policy = PeerSyncPolicy(antiEntropyInterval: interval, backoff: Self.schedule(base: base, cap: cap), now: now)
            var failures = 0
            var nextDue = now
            var lastSuccess: Double?
            for step in 0..<100 {
                now += Double(Int.random(in: 0...40, using: &random)) / 4
                switch Int.random(in: 0..<5, using: &random) {
                case 0:
                    policy.trigger(now: now)
                    if failures == 0 { nextDue = min(nextDue, now) }
                case 1:
                    policy.trigger(now: now, force: true)
                    nextDue = min(nextDue, now)
                case 2:
                    policy.roundSucceeded(now: now)
                    failures = 0
                    lastSuccess = now
                    nextDue = now + interval
                default:
                    let jitter = Double.random(in: 0.5...1.5, using: &random)
                    policy.roundFailed(now: now, jitter: jitter)
                    failures += 1
                    nextDue = now + min(base * pow(2, Double(min(failures - 1, 30))), cap) * jitter
                }
                let context = "seed \(seed), walk \(walk), step \(step)"
                #expect(policy.failures == failures, "\(context)")
                #expect(abs(policy.nextDue - nextDue) <= 1e-9 * max(1, abs(nextDue)), "\(context): \(policy.nextDue) vs \(nextDue)")
                #expect(policy.lastSuccess == lastSuccess, "\(context)")
                #expect(policy.isReachable == (failures == 0 && lastSuccess != nil), "\(context)")
                let probe = now + Double(Int.random(in: -20...20, using: &random)) / 4
                #expect(policy.nextAction(now: probe) == (probe >= policy.nextDue ? .syncNow : .waitUntil(policy.nextDue)), "\(context)")
                if policy.failures != failures { return }
            }
        }
    }
}
