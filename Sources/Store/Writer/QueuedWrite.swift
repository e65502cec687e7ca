import Synchronization

/// A write already in the writer's queue, whose outcome is awaited later (``NodeStore/queueMerge(encoded:)``).
///
/// Invariant: completed exactly once, by the writer's reply (or the queue's closing); ``outcome()`` is awaited by
/// one task at most.
public final class QueuedWrite: Sendable {
    private typealias Waiter = CheckedContinuation<Result<WriteOutcome, StoreError>, Never>

    private enum State {
        case pending(Waiter?)
        case done(Result<WriteOutcome, StoreError>)
    }

    private let state = Mutex(State.pending(nil))

    init() {}

    @Sendable func complete(_ result: Result<WriteOutcome, StoreError>) {
        let waiter = state.withLock { state -> Waiter? in
            guard case .pending(let waiter) = state else { return nil }
            state = .done(result)
            return waiter
        }
        waiter?.resume(returning: result)
    }

    /// The write's outcome, once the writer has committed it (or refused it).
    public func outcome() async throws(StoreError) -> WriteOutcome {
        let result = await withCheckedContinuation { (waiter: Waiter) in
            let done = state.withLock { state -> Result<WriteOutcome, StoreError>? in
                if case .done(let result) = state { return result }
                state = .pending(waiter)
                return nil
            }
            if let done { waiter.resume(returning: done) }
        }
        return try result.get()
    }
}
