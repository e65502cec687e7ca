@testable import Store
import Testing

@Suite("When the writer indexes the history backlog")
struct HistoryIndexingPolicyTests {
    private let millisecond: UInt64 = 1_000_000

    @Test("at start it looks at once, and polls without waiting while batches remain")
    func owedAtStart() {
        var policy = HistoryIndexingPolicy(batch: 100, backlogLimit: 1_000, unindexed: 250)
        #expect(policy.pollTimeoutMilliseconds(now: 0) == 0)
        #expect(policy.batchWhenIdle(now: 0) == 100)
        policy.indexed(100, more: true, now: 0)
        #expect(policy.unindexed == 150 && policy.pollTimeoutMilliseconds(now: 0) == 0)
        #expect(policy.batchWhenIdle(now: 1) == 100, "owed batches do not wait for the check interval")
        policy.indexed(100, more: false, now: 2)
        #expect(policy.unindexed == 0 && policy.pollTimeoutMilliseconds(now: 0) == nil, "idle: the poll waits for a request")
    }

    @Test("with nothing owed it looks again only after the check interval")
    func checkInterval() {
        var policy = HistoryIndexingPolicy(batch: 100, backlogLimit: 1_000, unindexed: 0)
        policy.indexed(100, more: false, now: 100 * millisecond)
        policy.committed(operations: 20, now: 0)
        #expect(policy.batchWhenIdle(now: 100 * millisecond + HistoryIndexingPolicy.checkInterval - 1) == nil)
        #expect(
            policy.pollTimeoutMilliseconds(now: 100 * millisecond) == Int(HistoryIndexingPolicy.checkInterval / millisecond),
            "the poll wakes when the backlog may be looked at")
        #expect(policy.batchWhenIdle(now: 100 * millisecond + HistoryIndexingPolicy.checkInterval) == 100)
    }

    @Test("with nothing committed since it last looked it does not look again: an idle node runs no indexing")
    func idleNodeDoesNotLook() {
        var policy = HistoryIndexingPolicy(batch: 100, backlogLimit: 1_000, unindexed: 0)
        #expect(policy.batchWhenIdle(now: 0) == 100, "at start it looks once")
        policy.indexed(100, more: false, now: 0)
        #expect(policy.batchWhenIdle(now: 3_600 * 1_000 * millisecond) == nil)
        #expect(policy.pollTimeoutMilliseconds(now: 3_600 * 1_000 * millisecond) == nil, "the poll waits for a request")
        policy.committed(operations: 0, now: 10 * millisecond)
        #expect(policy.batchWhenIdle(now: 3_600 * 1_000 * millisecond) == nil, "a commit of no operation adds nothing")
        policy.committed(operations: 1, now: 20 * millisecond)
        #expect(policy.batchWhenIdle(now: 3_600 * 1_000 * millisecond) == 100)
    }

    @Test("after a commit it indexes only past the limit, and at least what exceeds it")
    func limit() {
        var policy = HistoryIndexingPolicy(batch: 100, backlogLimit: 1_000, unindexed: 0)
        policy.committed(operations: 999, now: 0)
        #expect(policy.batchAfterCommit() == nil)
        policy.committed(operations: 1, now: 0)
        #expect(policy.batchAfterCommit() == 100)
        policy.committed(operations: 500, now: 0)
        #expect(policy.batchAfterCommit() == 500, "a commit that added more than a batch is caught up at once")
        policy.indexed(500, more: true, now: 0)
        #expect(policy.unindexed == 1_000)
    }

    @Test("a failed batch is retried after the retry delay, not in a loop")
    func failure() {
        var policy = HistoryIndexingPolicy(batch: 100, backlogLimit: 1_000, unindexed: 10)
        policy.failed(now: 0)
        #expect(policy.pollTimeoutMilliseconds(now: 0) == Int(HistoryIndexingPolicy.retryDelay / 1_000_000))
        #expect(policy.batchWhenIdle(now: HistoryIndexingPolicy.retryDelay - 1) == nil)
        #expect(policy.batchWhenIdle(now: HistoryIndexingPolicy.retryDelay) == 100)
    }

    @Test("a commit holds idle-time batches back for the quiet period, and the poll waits for its end")
    func quietPeriod() {
        let quiet = HistoryIndexingPolicy.quietPeriod
        var policy = HistoryIndexingPolicy(batch: 100, backlogLimit: 1_000, unindexed: 500)
        policy.committed(operations: 50_000, now: 1_000 * millisecond)
        #expect(policy.batchWhenIdle(now: 1_000 * millisecond + quiet - 1) == nil, "a gap between two pages is not idleness")
        #expect(policy.pollTimeoutMilliseconds(now: 1_000 * millisecond) == Int(quiet / millisecond))
        #expect(policy.pollTimeoutMilliseconds(now: 1_000 * millisecond + quiet - millisecond / 2) == 1, "rounded up, never a busy loop")
        #expect(policy.batchWhenIdle(now: 1_000 * millisecond + quiet) == 100)
        #expect(policy.pollTimeoutMilliseconds(now: 1_000 * millisecond + quiet) == 0)
    }

    @Test("a batch of 0 leaves the backlog alone")
    func off() {
        var policy = HistoryIndexingPolicy(batch: 0, backlogLimit: 10, unindexed: 50)
        policy.committed(operations: 50, now: 0)
        #expect(policy.pollTimeoutMilliseconds(now: 0) == nil)
        #expect(policy.batchWhenIdle(now: .max) == nil)
        #expect(policy.batchAfterCommit() == nil)
    }
}
