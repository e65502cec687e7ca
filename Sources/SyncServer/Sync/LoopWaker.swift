import Synchronization

/// Lets one task wait until a deadline or an earlier wake-up, whichever comes first.
///
/// A wake that arrives while nobody waits is kept, so the next wait returns at once: a trigger is never lost
/// between a loop deciding to wait and starting to. Cancelling the waiting task ends its wait. The deadlines of
/// successive waits are watched by one ``DeadlineTimer``, so a loop woken at every commit creates no task per wait.
final class LoopWaker: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        var generation: UInt64 = 0
    }

    /// The state, in a box of its own: the timer's call holds the box, not the waker, which it would keep alive.
    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    private let shared = Shared()
    private let timer: DeadlineTimer

    init() {
        let shared = shared
        timer = DeadlineTimer { generation in
            let waiter = shared.state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard state.generation == generation else { return nil }
                return state.waiter.take()
            }
            waiter?.resume()
        }
    }

    deinit { timer.stop() }

    /// Whether a wait is under way (a wake now ends it rather than being kept for the next).
    var isWaiting: Bool { shared.state.withLock { $0.waiter != nil } }

    /// Ends the current wait, or the next one if none is under way.
    func wake() {
        let waiter = shared.state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter.take() else {
                state.pending = true
                return nil
            }
            return waiter
        }
        waiter?.resume()
    }

    /// Returns after `seconds`, at a wake-up or when the task is cancelled, whichever comes first.
    func wait(seconds: Double) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let generation = shared.state.withLock { state -> UInt64? in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return nil
                    }
                    state.generation += 1
                    state.waiter = continuation
                    return state.generation
                }
                guard let generation else { return continuation.resume() }
                // A later deadline than the timer's keeps its task; the generation tells the timer's call for an
                // earlier wait from this one's.
                timer.arm(at: .now + .seconds(max(seconds, 0)), token: generation)
            }
        } onCancel: {
            wake()
        }
    }
}
