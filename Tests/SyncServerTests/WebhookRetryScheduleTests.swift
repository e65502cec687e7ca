import SyncServer
import Testing

@Suite("Webhook retry schedule: exponential backoff with jitter, a bounded number of attempts")
struct WebhookRetryScheduleTests {
    @Test func theDocumentedDefaults() {
        let schedule = WebhookRetrySchedule()
        // 0.5 s doubling, capped at 30 s, for 8 attempts: 7 waits, then none.
        let waits = (1...8).map { schedule.delay(afterFailedAttempt: $0, jitter: 1) }
        #expect(waits == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30), nil])
    }

    @Test func jitterScalesTheWaitWithinHalfAndOneAndAHalf() {
        let schedule = WebhookRetrySchedule(maxAttempts: 40, firstDelay: .milliseconds(100), maxDelay: .seconds(5))
        #expect(schedule.delay(afterFailedAttempt: 1, jitter: 0.5) == .milliseconds(50))
        #expect(schedule.delay(afterFailedAttempt: 1, jitter: 1.5) == .milliseconds(150))
        #expect(schedule.delay(afterFailedAttempt: 1, jitter: 9) == .milliseconds(150))
        #expect(schedule.delay(afterFailedAttempt: 1, jitter: -3) == .milliseconds(50))
        #expect(schedule.delay(afterFailedAttempt: 1, jitter: .nan) == .milliseconds(100))
        // Far past the cap (no overflow from doubling): the cap times the jitter.
        #expect(schedule.delay(afterFailedAttempt: 39, jitter: 1.5) == .milliseconds(7_500))
    }

    @Test func noAttemptAfterTheLastOrBeforeTheFirst() {
        let schedule = WebhookRetrySchedule(maxAttempts: 3)
        #expect(schedule.delay(afterFailedAttempt: 2, jitter: 1) != nil)
        #expect(schedule.delay(afterFailedAttempt: 3, jitter: 1) == nil)
        #expect(schedule.delay(afterFailedAttempt: 0, jitter: 1) == nil)
        #expect(WebhookRetrySchedule(maxAttempts: 1).delay(afterFailedAttempt: 1, jitter: 1) == nil)
    }
}
