import Foundation
import SyncServer
import Testing

/// `BackoffSchedule` is a pure value: every test passes the failure count and the jitter factor (or a seeded
/// generator) and checks the wait. No clock, no sleeping.
@Suite("BackoffSchedule: exponential backoff with a cap, jitter and an optional attempt limit")
struct BackoffScheduleTests {
    /// The model of the documented rule, in seconds: `min(first * 2^min(failures - 1, 30), cap)`, before jitter.
    static func nominal(first: Double, cap: Double, failures: Int) -> Double {
        min(first * pow(2, Double(min(failures - 1, 30))), cap)
    }

    static func seconds(_ duration: Duration?) -> Double? {
        duration.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 }
    }

    @Test("the webhook's documented defaults: 0.5 s doubling, capped at 30 s, for 8 attempts: 7 waits, then none")
    func webhookDefaults() {
        let schedule = AlertWebhook(url: "https://example.invalid/hook").retries
        #expect(schedule == AlertWebhook.defaultRetries)
        #expect(schedule == BackoffSchedule(first: .milliseconds(500), cap: .seconds(30), maxAttempts: 8))
        let waits = (1...8).map { schedule.delay(afterFailures: $0, jitter: 1) }
        #expect(waits == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), nil])
    }

    @Test("the peer policy's documented defaults: 0.5 s doubling, capped at 30 s, retried forever")
    func peerDefaults() {
        let schedule = PeerSyncPolicy(now: 0).backoff
        #expect(schedule == PeerSyncPolicy.defaultBackoff)
        #expect(schedule == BackoffSchedule(first: .milliseconds(500), cap: .seconds(30)))
        let waits = (1...12).map { schedule.delay(afterFailures: $0, jitter: 1) }
        #expect(waits == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16)] + Array(repeating: .seconds(30), count: 6))
        #expect(schedule.delay(afterFailures: 1_000_000, jitter: 1) == .seconds(30), "no attempt limit")
    }

    @Test("jitter scales the wait within 0.5...1.5; values outside are clamped, NaN counts as 1")
    func jitterScalesTheWait() {
        let schedule = BackoffSchedule(first: .milliseconds(100), cap: .seconds(5), maxAttempts: 40)
        #expect(schedule.delay(afterFailures: 1, jitter: 0.5) == .milliseconds(50))
        #expect(schedule.delay(afterFailures: 1, jitter: 1.5) == .milliseconds(150))
        #expect(schedule.delay(afterFailures: 1, jitter: 0.75) == .milliseconds(75))
        #expect(schedule.delay(afterFailures: 1, jitter: 9) == .milliseconds(150))
        #expect(schedule.delay(afterFailures: 1, jitter: -3) == .milliseconds(50))
        #expect(schedule.delay(afterFailures: 1, jitter: .infinity) == .milliseconds(150))
        #expect(schedule.delay(afterFailures: 1, jitter: -.infinity) == .milliseconds(50))
        #expect(schedule.delay(afterFailures: 1, jitter: .nan) == .milliseconds(100))
        // Far past the cap (no overflow from doubling): the cap times the jitter.
        #expect(schedule.delay(afterFailures: 39, jitter: 1.5) == .milliseconds(7_500))
    }

    @Test("no wait after the last attempt, nor before the first")
    func attemptLimit() {
        let schedule = BackoffSchedule(first: .milliseconds(500), cap: .seconds(30), maxAttempts: 3)
        #expect(schedule.delay(afterFailures: 2, jitter: 1) != nil)
        #expect(schedule.delay(afterFailures: 3, jitter: 1) == nil)
        #expect(schedule.delay(afterFailures: 0, jitter: 1) == nil)
        #expect(schedule.delay(afterFailures: -5, jitter: 1) == nil)
        #expect(BackoffSchedule(first: .seconds(1), cap: .seconds(1), maxAttempts: 1).delay(afterFailures: 1, jitter: 1) == nil)
        #expect(BackoffSchedule(first: .seconds(1), cap: .seconds(1)).delay(afterFailures: 0, jitter: 1) == nil)
    }

    @Test("the doubling stops after 30 steps: any count of failures neither overflows nor passes the cap")
    func manyFailures() {
        let schedule = BackoffSchedule(first: .nanoseconds(1), cap: .seconds(1_000_000_000))
        #expect(schedule.delay(afterFailures: 31, jitter: 1) == .nanoseconds(1 << 30))
        #expect(schedule.delay(afterFailures: 5_000, jitter: 1) == .nanoseconds(1 << 30))
        #expect(schedule.delay(afterFailures: .max, jitter: 1.5) == .nanoseconds(1 << 30) * 1.5)
        // A cap near Duration's limit: the doubling saturates at the cap instead of overflowing.
        let huge = BackoffSchedule(first: .seconds(Int64.max / 4), cap: .seconds(Int64.max / 2 + 1))
        #expect(huge.delay(afterFailures: 10, jitter: 1) == .seconds(Int64.max / 2 + 1))
        // A zero first wait stays zero.
        #expect(BackoffSchedule(first: .zero, cap: .seconds(30)).delay(afterFailures: 20, jitter: 1.5) == .zero)
    }

    @Test("random schedules and failure counts agree with the model of the documented rule")
    func agreesWithTheModel() {
        let seed = SplitMix64.testSeed()
        var random = SplitMix64(seed: seed)
        for round in 0..<2_000 {
            let first = [0.001, 0.1, 0.25, 0.5, 1, 2, 3][Int.random(in: 0..<7, using: &random)]
            let cap = first * Double(Int.random(in: 1...100, using: &random))
            let limit: Int? = Bool.random(using: &random) ? nil : Int.random(in: 1...20, using: &random)
            let schedule = BackoffSchedule(first: .seconds(first), cap: .seconds(cap), maxAttempts: limit)
            let failures = Int.random(in: -2...60, using: &random)
            let jitter = Double.random(in: 0...2, using: &random)
            let wait = Self.seconds(schedule.delay(afterFailures: failures, jitter: jitter))
            let context = "seed \(seed), round \(round): first \(first), cap \(cap), limit \(String(describing: limit)), failures \(failures), jitter \(jitter)"
            if failures < 1 || failures >= (limit ?? .max) {
                #expect(wait == nil, "\(context)")
                continue
            }
            let expected = Self.nominal(first: first, cap: cap, failures: failures) * min(max(jitter, 0.5), 1.5)
            guard let got = wait else {
                Issue.record("\(context): no wait")
                continue
            }
            #expect(abs(got - expected) <= 1e-9 * max(1, expected), "\(context): \(got) vs \(expected)")
            #expect(got <= cap * 1.5 + 1e-9, "\(context)")
        }
    }

    @Test("a jitter drawn from an injected generator: in 0.5...1.5, and the same generator state gives the same wait")
    func injectedGenerator() {
        let seed = SplitMix64.testSeed()
        let schedule = BackoffSchedule(first: .milliseconds(500), cap: .seconds(30))
        var drawing = SplitMix64(seed: seed)
        var replaying = SplitMix64(seed: seed)
        var low = 2.0, high = 0.0
        for failures in 1...500 {
            let jitter = BackoffSchedule.drawJitter(using: &replaying)
            #expect(BackoffSchedule.jitterRange.contains(jitter), "seed \(seed)")
            low = min(low, jitter)
            high = max(high, jitter)
            #expect(schedule.delay(afterFailures: failures, using: &drawing) == schedule.delay(afterFailures: failures, jitter: jitter), "seed \(seed), failures \(failures)")
        }
        // 500 uniform draws cover most of the range (the chance of missing either tenth is below 10^-22).
        #expect(low < 0.6 && high > 1.4, "seed \(seed): \(low)...\(high)")
    }
}
