import Synchronization

/// Lets one task wait until a deadline or an earlier wake-up, whichever comes first.
///
/// A wake that arrives while nobody waits is kept, so the next wait returns at once: a trigger is never lost
/// between a loop deciding to wait and starting to. Cancelling the waiting task ends its wait. Each wait's timer
/// is cancelled as soon as the wait ends, so frequent wakes leave no sleeping tasks behind.
final class LoopWaker: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        var generation = 0
        var timer: Task<Void, Never>?
    }

    private let state = Mutex(State())

    init() {}

    /// Whether a wait is under way (a wake now ends it rather than being kept for the next).
    var isWaiting: Bool { state.withLock { $0.waiter != nil } }

    /// Ends the current wait, or the next one if none is under way.
    func wake() {
        let (waiter, timer) = state.withLock { state -> (CheckedContinuation<Void, Never>?, Task<Void, Never>?) in
            guard let waiter = state.waiter else {
                state.pending = true
                return (nil, nil)
            }
            defer {
                state.waiter = nil
                state.timer = nil
            }
            return (waiter, state.timer)
        }
        timer?.cancel()
        waiter?.resume()
    }

    /// Returns after `seconds`, at a wake-up or when the task is cancelled, whichever comes first.
    func wait(seconds: Double) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let generation = state.withLock { state -> Int? in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return nil
                    }
                    state.generation += 1
                    state.waiter = continuation
                    return state.generation
                }
                guard let generation else { return continuation.resume() }
                let timer = Task { [self] in
                    // Cancelled when a wake ended the wait first; `timeOut` then finds another generation.
                    try? await Task.sleep(for: .seconds(max(seconds, 0)))
                    timeOut(generation)
                }
                let stale = state.withLock { state -> Bool in
                    guard state.generation == generation, state.waiter != nil else { return true }
                    state.timer = timer
                    return false
                }
                if stale { timer.cancel() }
            }
        } onCancel: {
            wake()
        }
    }

    private func timeOut(_ generation: Int) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.generation == generation, let waiter = state.waiter else { return nil }
            state.waiter = nil
            state.timer = nil
            return waiter
        }
        waiter?.resume()
    }
}
