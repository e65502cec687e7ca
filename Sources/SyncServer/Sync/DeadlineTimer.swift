import Synchronization

/// Calls `fire` once the deadline armed last passes, with the token it was armed with, from one sleeping task that
/// outlives the deadlines it watches.
///
/// A served stream waits for its next commit with a heartbeat deadline, and races each frame's write against a stall
/// limit: a task per wait and per write, each created and then cancelled a few milliseconds later, cost the origin
/// about 6 % of its CPU per write with eight nodes (`perf record` of it in `inv-bench fanout`), and more
/// with more subscribers. Here, arming a later deadline than the one the task sleeps towards creates nothing: the
/// task wakes at its own, finds the later one and sleeps again. Only a deadline earlier than that starts a new task.
///
/// Invariants: `fire(token)` is called at most once per arming, never before the armed deadline, and not at all if
/// the timer was disarmed or armed again before that deadline; a wake-up that finds nothing armed ends the task.
/// `fire` runs outside the timer's lock, so it may arm the timer again.
final class DeadlineTimer: Sendable {
    private struct State {
        var deadline: ContinuousClock.Instant?
        var token: UInt64 = 0
        /// The sleeping task, and the instant it sleeps until (never later than `deadline`).
        var sleeper: Task<Void, Never>?
        var sleeperTarget: ContinuousClock.Instant?
        var sleeperID: UInt64 = 0
        var stopped = false
    }

    private let state = Mutex(State())
    private let fire: @Sendable (_ token: UInt64) -> Void

    init(fire: @escaping @Sendable (_ token: UInt64) -> Void) { self.fire = fire }

    /// Arms the timer for `deadline` with `token`, in place of whatever was armed.
    func arm(at deadline: ContinuousClock.Instant, token: UInt64) {
        let replaced = state.withLock { state -> Task<Void, Never>? in
            guard !state.stopped else { return nil }
            state.deadline = deadline
            state.token = token
            if let target = state.sleeperTarget, target <= deadline { return nil }
            let replaced = state.sleeper
            state.sleeperID &+= 1
            let id = state.sleeperID
            state.sleeperTarget = deadline
            state.sleeper = Task { [self] in await sleep(id: id, until: deadline) }
            return replaced
        }
        replaced?.cancel()
    }

    /// Forgets the armed deadline. The task keeps sleeping until its own, then ends: cancelling it here would cost
    /// what this type saves, since a write disarms the timer as soon as it completes.
    func disarm() {
        state.withLock { $0.deadline = nil }
    }

    /// Disarms the timer for good and ends its task now.
    func stop() {
        let sleeper = state.withLock { state in
            state.stopped = true
            state.deadline = nil
            state.sleeperTarget = nil
            return state.sleeper.take()
        }
        sleeper?.cancel()
    }

    private enum Step {
        case sleep(until: ContinuousClock.Instant)
        case fire(UInt64)
        case end
    }

    private func sleep(id: UInt64, until target: ContinuousClock.Instant) async {
        var target = target
        while true {
            do { try await Task.sleep(until: target, clock: .continuous) } catch { return }
            let step = state.withLock { state -> Step in
                // Replaced by a task for an earlier deadline, or stopped: that one, or nobody, acts now.
                guard state.sleeperID == id, !state.stopped else { return .end }
                guard let deadline = state.deadline else {
                    state.sleeper = nil
                    state.sleeperTarget = nil
                    return .end
                }
                if deadline > .now {
                    state.sleeperTarget = deadline
                    return .sleep(until: deadline)
                }
                state.deadline = nil
                state.sleeper = nil
                state.sleeperTarget = nil
                return .fire(state.token)
            }
            switch step {
            case .sleep(let next):
                target = next
            case .fire(let token):
                fire(token)
                return
            case .end:
                return
            }
        }
    }
}
