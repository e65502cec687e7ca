import Foundation
import Synchronization

/// Starts the one thread that owns a ZMQ socket: libzmq sockets are single-threaded, so the thread makes the socket,
/// runs its loop and closes it.
enum SocketThread {
    /// Starts a thread named `name` that calls `open` (the socket, and whatever else the loop needs), then `run`,
    /// then closes the socket. Returns once `open` has returned, rethrowing its error (the thread has then ended);
    /// `done` is signalled when the thread ends, either way.
    static func start<Loop>(
        name: String, done: DispatchSemaphore, open: @escaping @Sendable () throws -> (ZMQSocket, Loop),
        run: @escaping @Sendable (ZMQSocket, inout Loop) -> Void
    ) throws {
        let started = DispatchSemaphore(value: 0)
        let failure = Mutex<(any Error)?>(nil)
        let thread = Thread {
            let socket: ZMQSocket
            var loop: Loop
            do {
                (socket, loop) = try open()
            } catch {
                failure.withLock { $0 = error }
                started.signal()
                done.signal()
                return
            }
            started.signal()
            run(socket, &loop)
            socket.close()
            done.signal()
        }
        thread.name = name
        thread.start()
        started.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }
}
