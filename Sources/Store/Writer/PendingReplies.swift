import CoreMetrics
import Synchronization

/// The requests of this process's ``InProcessWriteClient`` that await the writer's answer, by request id.
///
/// The writer resumes them itself, after the commit, instead of sending a reply back over ZMQ to a thread that
/// would resume them: in-process writes save a thread wake-up and a reply's encoding per request.
///
/// Invariants: each request is resumed exactly once, by ``resume(_:with:)`` or ``failAll(_:)``; once closed,
/// nothing is registered, so nothing can wait forever.
final class PendingReplies: Sendable {
    /// Called once with the request's outcome: resumes a waiting task, or completes a ``QueuedWrite``.
    typealias Reply = @Sendable (Result<WriteOutcome, StoreError>) -> Void

    private struct State {
        var waiting: [UInt64: Reply] = [:]
        var closed = false
    }

    private let state = Mutex(State())
    /// Counts every registered request up, and down once it is resumed (whatever the outcome).
    private let depth: Meter

    init(depth: Meter) { self.depth = depth }

    /// Records a request about to be sent; `false` (and nothing recorded) once closed.
    func register(_ id: UInt64, _ reply: @escaping Reply) -> Bool {
        state.withLock { state in
            guard !state.closed else { return false }
            state.waiting[id] = reply
            // Counted before the writer can see the request, so the answer's decrement never comes first.
            depth.increment()
            return true
        }
    }

    /// Answers one request; an unknown or already answered id is ignored.
    func resume(_ id: UInt64, with result: Result<WriteOutcome, StoreError>) {
        guard let reply = state.withLock({ $0.waiting.removeValue(forKey: id) }) else { return }
        depth.decrement()
        reply(result)
    }

    /// Closes the registry and answers every request still waiting with `error`.
    func failAll(_ error: StoreError) {
        let waiting = state.withLock { state in
            state.closed = true
            defer { state.waiting.removeAll() }
            return state.waiting
        }
        for reply in waiting.values {
            depth.decrement()
            reply(.failure(error))
        }
    }
}
