import Synchronization

/// A write raced against a time limit: when the limit passes first, `abort` ends the transport under the write
/// (closes its connection), which makes the write fail; the write's end cancels the timer otherwise.
///
/// The write stays in the caller's task (a response body's writer cannot leave it), so the loser of the race is
/// ended by closing the connection rather than by cancelling a task. Exactly one side wins: a write that
/// completes as the limit passes counts as stalled if the timer claimed the race first, since its connection is
/// being closed.
enum StalledWriteGuard {
    enum Outcome: Sendable, Equatable {
        case written
        /// The limit passed before the write completed; the connection was aborted.
        case stalled
    }

    private final class Race: Sendable {
        private let winner = Mutex<Outcome?>(nil)
        /// Whether `outcome` won the race (the first to claim it).
        func claim(_ outcome: Outcome) -> Bool {
            winner.withLock { winner in
                guard winner == nil else { return false }
                winner = outcome
                return true
            }
        }
    }

    /// Runs `write`, aborting the transport with `abort` if it has not completed within `seconds`.
    ///
    /// - Throws: the write's error when it failed before the limit passed.
    static func write(
        within seconds: Double, _ write: () async throws -> Void, abort: @escaping @Sendable () -> Void
    ) async throws -> Outcome {
        let race = Race()
        let timer = Task {
            try? await Task.sleep(for: .seconds(seconds))
            if !Task.isCancelled, race.claim(.stalled) { abort() }
        }
        defer { timer.cancel() }
        do {
            try await write()
        } catch {
            // The write failed because the timer closed its connection: that is the stall, not a failure of its own.
            guard race.claim(.written) else { return .stalled }
            throw error
        }
        return race.claim(.written) ? .written : .stalled
    }
}
