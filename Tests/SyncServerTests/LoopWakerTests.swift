import Foundation
import Synchronization
import Testing

@testable import SyncServer

// The limit is generous: the in-process suites run in parallel on few threads, and CPU-bound tests beside these can
// hold every thread for tens of seconds. A lost wake or an ignored cancellation still fails it: it waits an hour.
@Suite("LoopWaker: a wait ends at its deadline, a wake-up or cancellation", .timeLimit(.minutes(3)))
struct LoopWakerTests {
    @Test func aWakeBeforeTheWaitIsKept() async {
        let waker = LoopWaker()
        waker.wake()
        // Without the kept wake this waits an hour, and the suite's time limit fails the test.
        await waker.wait(seconds: 3_600)
    }

    @Test func aWakeEndsAWaitInProgress() async throws {
        let waker = LoopWaker()
        let waiting = Task { await waker.wait(seconds: 3_600) }
        // Wake only once the wait is under way (a wake before it is kept: another test).
        while !waker.isWaiting { await Task.yield() }
        #expect(waker.isWaiting)
        waker.wake()
        #expect(!waker.isWaiting)
        // Only the wake can end this wait within the suite's time limit.
        await waiting.value
        // The wake was used up: the next wait lasts until its own deadline.
        let next = ContinuousClock.now
        await waker.wait(seconds: 0.2)
        #expect(ContinuousClock.now - next >= .milliseconds(150))
    }

    @Test func aWaitEndsAtItsDeadlineWithoutAWake() async {
        let waker = LoopWaker()
        let started = ContinuousClock.now
        await waker.wait(seconds: 0.1)
        let elapsed = ContinuousClock.now - started
        // No upper bound: a busy machine may run the waiter late; a wait that never ends fails the suite's time limit.
        #expect(elapsed >= .milliseconds(90))
    }

    @Test func aShortWaitAfterALongOneEndsAtItsOwnDeadline() async {
        let waker = LoopWaker()
        let long = Task { await waker.wait(seconds: 3_600) }
        while !waker.isWaiting { await Task.yield() }
        waker.wake()
        await long.value
        // The timer still sleeps towards the hour of the first wait: this one must not wait for it.
        await waker.wait(seconds: 0.1)
    }

    @Test func cancellingTheWaitingTaskEndsTheWait() async {
        let waker = LoopWaker()
        let waiting = Task { await waker.wait(seconds: 3_600) }
        waiting.cancel()
        // Only the cancellation can end this wait within the suite's time limit.
        await waiting.value
    }

    @Test func manyWakesAndWaitsNeverHang() async {
        let waker = LoopWaker()
        final class Flag: Sendable { let value = Atomic(false) }
        let waiterDone = Flag()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for _ in 0..<500 { await waker.wait(seconds: 3_600) }
                waiterDone.value.store(true, ordering: .releasing)
            }
            group.addTask {
                // More wakes than waits, from another task, in bursts.
                for round in 0..<1_000 {
                    waker.wake()
                    if round % 100 == 0 { await Task.yield() }
                }
                // The waiter may still be short of its 500 waits: keep waking until it is done (a lost wake
                // leaves a wait of an hour, and the suite's time limit fails the test).
                for _ in 0..<200_000 where !waiterDone.value.load(ordering: .acquiring) {
                    waker.wake()
                    await Task.yield()
                }
            }
            await group.waitForAll()
        }
    }
}
