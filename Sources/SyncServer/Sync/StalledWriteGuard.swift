import Synchronization

/// Races each write of one connection against a time limit: when the limit passes first, `abort` ends the transport
/// under the write (closes its connection), which makes the write fail.
///
/// The write stays in the caller's task (a response body's writer cannot leave it), so the loser of the race is
/// ended by closing the connection rather than by cancelling a task. Exactly one side wins each race: a write that
/// completes as the limit passes counts as stalled if the timer claimed the race first, since its connection is
/// being closed. One ``DeadlineTimer`` watches every write of the connection, so a write creates no task. Writes
/// run one at a time (a response body's are); ``stop()`` ends the timer when the connection is done with.
final class StalledWriteGuard: Sendable {
    enum Outcome: Sendable, Equatable {
        case written
        /// The limit passed before the write completed; the connection was aborted.
        case stalled
    }

    private struct Race {
        /// The write under way (counted from 1), and who won its race, once someone has.
        var write: UInt64 = 0
        var winner: Outcome?
    }

    /// The race, in a box of its own: the timer's call holds the box, not the guard.
    private final class Shared: Sendable {
        let race = Mutex(Race())

        /// Whether `outcome` won the race of `write` (the first to claim it).
        func claim(_ outcome: Outcome, of write: UInt64) -> Bool {
            race.withLock { race in
                guard race.write == write, race.winner == nil else { return false }
                race.winner = outcome
                return true
            }
        }
    }

    let limitSeconds: Double
    private let shared = Shared()
    private let timer: DeadlineTimer

    init(limitSeconds: Double, abort: @escaping @Sendable () -> Void) {
        self.limitSeconds = limitSeconds
        let shared = shared
        timer = DeadlineTimer { write in
            if shared.claim(.stalled, of: write) { abort() }
        }
    }

    deinit { timer.stop() }

    /// Runs `write`, aborting the transport if it has not completed within the limit.
    ///
    /// - Throws: the write's error when it failed before the limit passed.
    func write(_ write: () async throws -> Void) async throws -> Outcome {
        let number = shared.race.withLock { race in
            race.write += 1
            race.winner = nil
            return race.write
        }
        timer.arm(at: .now + .seconds(limitSeconds), token: number)
        defer { timer.disarm() }
        do {
            try await write()
        } catch {
            // The write failed because the timer closed its connection: that is the stall, not a failure of its own.
            guard shared.claim(.written, of: number) else { return .stalled }
            throw error
        }
        return shared.claim(.written, of: number) ? .written : .stalled
    }

    /// Ends the timer: no write is watched after this.
    func stop() { timer.stop() }
}
