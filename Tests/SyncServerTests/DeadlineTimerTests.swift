import Foundation
import Synchronization
import Testing

@testable import SyncServer

/// `DeadlineTimer` calls back once the deadline armed last passes, with its token, and never for a deadline that was
/// disarmed or replaced. The limit is generous for busy machines; a call that never comes fails it.
@Suite("DeadlineTimer: one call per passed deadline, none for a replaced or disarmed one", .timeLimit(.minutes(3)))
struct DeadlineTimerTests {
    final class Calls: Sendable {
        private let tokens = Mutex<[UInt64]>([])
        var all: [UInt64] { tokens.withLock { $0 } }

        /// A timer whose calls are recorded here.
        func timer() -> DeadlineTimer { DeadlineTimer { token in self.tokens.withLock { $0.append(token) } } }

        /// Returns once `count` calls came; a cancelled test (its time limit) ends the wait by throwing.
        func waitFor(count: Int) async throws {
            while all.count < count { try await Task.sleep(for: .milliseconds(5)) }
        }
    }

    @Test func aPassedDeadlineCallsOnceWithItsToken() async throws {
        let calls = Calls()
        let timer = calls.timer()
        defer { timer.stop() }
        let start = ContinuousClock.now
        timer.arm(at: start + .milliseconds(50), token: 7)
        try await calls.waitFor(count: 1)
        #expect(ContinuousClock.now - start >= .milliseconds(50))
        try await Task.sleep(for: .milliseconds(100))
        #expect(calls.all == [7])
    }

    @Test func aLaterDeadlineReplacesTheArmedOne() async throws {
        let calls = Calls()
        let timer = calls.timer()
        defer { timer.stop() }
        let start = ContinuousClock.now
        timer.arm(at: start + .milliseconds(50), token: 1)
        timer.arm(at: start + .milliseconds(150), token: 2)
        try await calls.waitFor(count: 1)
        #expect(ContinuousClock.now - start >= .milliseconds(150))
        try await Task.sleep(for: .milliseconds(100))
        #expect(calls.all == [2])
    }

    @Test func anEarlierDeadlineIsNotHeldBackByALaterOne() async throws {
        let calls = Calls()
        let timer = calls.timer()
        defer { timer.stop() }
        timer.arm(at: .now + .seconds(3_600), token: 1)
        timer.arm(at: .now + .milliseconds(20), token: 2)
        // Only the earlier deadline's call ends this within the suite's time limit.
        try await calls.waitFor(count: 1)
        #expect(calls.all == [2])
    }

    @Test func aDisarmedOrStoppedTimerCallsNothing() async throws {
        let calls = Calls()
        let timer = calls.timer()
        timer.arm(at: .now + .milliseconds(30), token: 1)
        timer.disarm()
        let stopped = calls.timer()
        stopped.arm(at: .now + .milliseconds(30), token: 2)
        stopped.stop()
        stopped.arm(at: .now + .milliseconds(30), token: 3)
        try await Task.sleep(for: .milliseconds(200))
        #expect(calls.all.isEmpty)
        // Disarmed is not stopped: it can be armed again.
        timer.arm(at: .now + .milliseconds(10), token: 4)
        try await calls.waitFor(count: 1)
        #expect(calls.all == [4])
        timer.stop()
    }
}
