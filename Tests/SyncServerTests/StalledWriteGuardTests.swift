import Synchronization
import Testing

@testable import SyncServer

/// `StalledWriteGuard` races a write against a time limit. The writes here are stand-ins for a response body's
/// writer: one that completes, one that fails, and one that waits until its connection is closed (`abort`).
@Suite("StalledWriteGuard: a write that outlasts its limit closes its connection", .timeLimit(.minutes(3)))
struct StalledWriteGuardTests {
    /// A connection whose write waits until it is closed, as a write to a subscriber that stopped reading does.
    final class StuckConnection: Sendable {
        struct Closed: Error {}
        private let state = Mutex<(closed: Bool, writer: CheckedContinuation<Void, any Error>?)>((false, nil))

        var isClosed: Bool { state.withLock { $0.closed } }

        func write() async throws {
            try await withCheckedThrowingContinuation { continuation in
                let closed = state.withLock { state -> Bool in
                    if !state.closed { state.writer = continuation }
                    return state.closed
                }
                if closed { continuation.resume(throwing: Closed()) }
            }
        }

        func close() {
            let writer = state.withLock { state in
                state.closed = true
                return state.writer.take()
            }
            writer?.resume(throwing: Closed())
        }
    }

    @Test("a write that completes within the limit is written, and the connection is left open")
    func completedWrite() async throws {
        let connection = StuckConnection()
        let outcome = try await StalledWriteGuard.write(within: 3_600, {}, abort: { connection.close() })
        #expect(outcome == .written)
        #expect(!connection.isClosed)
    }

    @Test("a write that fails on its own throws its error; the connection is not closed by the guard")
    func failedWrite() async {
        struct Reset: Error {}
        let connection = StuckConnection()
        await #expect(throws: Reset.self) {
            try await StalledWriteGuard.write(within: 3_600, { throw Reset() }, abort: { connection.close() })
        }
        #expect(!connection.isClosed)
    }

    @Test("a write still waiting at the limit is stalled: the connection is closed under it, and its error is swallowed")
    func stalledWrite() async throws {
        let connection = StuckConnection()
        // Only the guard's abort ends this write: without it, the suite's time limit fails the test.
        let outcome = try await StalledWriteGuard.write(within: 0.05, { try await connection.write() }, abort: { connection.close() })
        #expect(outcome == .stalled)
        #expect(connection.isClosed)
    }
}
