import Synchronization

/// The first of two answers: a task's value, or a fallback after a timeout (the task is left to finish).
enum FirstAnswer {
    private final class Slot<Value: Sendable>: Sendable {
        let continuation: Mutex<CheckedContinuation<Value, Never>?>
        init(_ continuation: CheckedContinuation<Value, Never>) { self.continuation = Mutex(continuation) }
        func resume(_ value: Value) { continuation.withLock { $0.take() }?.resume(returning: value) }
    }

    static func race<Value: Sendable>(
        _ task: Task<Value, Never>, timeout: Duration, fallback: @escaping @Sendable () -> Value
    ) async -> Value {
        await withCheckedContinuation { continuation in
            let slot = Slot(continuation)
            let timer = Task {
                try? await Task.sleep(for: timeout)
                slot.resume(fallback())
            }
            Task {
                slot.resume(await task.value)
                timer.cancel()
            }
        }
    }
}
