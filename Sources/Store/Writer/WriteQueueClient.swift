import CoreMetrics
import CZMQ
import Foundation
import Logging
import Synchronization

/// Submits write commands to the writer over ZMQ and awaits each acknowledgement.
///
/// libzmq sockets are single-threaded, so one I/O thread owns this client's DEALER socket. Submitting tasks hand
/// their encoded request to it through a locked queue and wake it with an eventfd that `zmq_poll` watches beside
/// the socket; replies are matched to waiting tasks by request id. No task ever blocks a thread: `submit` suspends.
///
/// Requests from one client reach the writer in submission order; each reply arrives only after the writer
/// committed the request's transaction.
public final class WriteQueueClient: Sendable {
    private struct State {
        var nextID: UInt64 = 1
        var outbox: [(id: UInt64, body: [UInt8])] = []
        var closed = false
    }

    private let state = Mutex(State())
    private let replies: PendingReplies
    private let wakeFD: Int32
    private let done = DispatchSemaphore(value: 0)
    private let endpoint: String

    /// Connects to a writer endpoint (`inproc://` needs the writer's context).
    ///
    /// - Parameter metrics: its ``WriterMetrics/queueDepth`` follows the requests awaiting their acknowledgement.
    public init(
        context: ZMQContext, endpoint: String, metrics: WriterMetrics = .init(), logger: Logger = Logger(label: "inv.write-client")
    ) throws {
        self.endpoint = endpoint
        replies = PendingReplies(depth: metrics.queueDepth)
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wakeFD >= 0 else { throw StoreError.unavailable("eventfd failed: errno \(errno)") }
        do {
            try SocketThread.start(name: "inv-write-client", done: done) {
                let socket = try ZMQSocket(context: context, kind: .dealer)
                try socket.connect(endpoint)
                return (socket, ())
            } run: { [self] socket, _ in
                run(socket: socket, logger: logger)
            }
        } catch {
            close(wakeFD)
            throw error
        }
    }

    /// Submits a command and returns its outcome once the writer has committed it.
    ///
    /// - Throws: the command's own `StoreError` (nothing was changed), or `.unavailable` when the client is closed.
    public func submit(_ command: WriteCommand) async throws(StoreError) -> WriteOutcome {
        try await submit(encoded: QueueCodec.submission(command))
    }

    /// Submits a merge of operations already in ``LedgerOperationCodec`` form (a peer's inflated sync page), so
    /// they are not encoded a second time for the queue. The writer decodes and validates them as any peer's merge:
    /// only operations their origins' proofs cover are applied.
    public func submitMerge(encoded operations: [UInt8]) async throws(StoreError) -> WriteOutcome {
        try await submit(encoded: QueueCodec.mergeRequest(encoded: operations, signed: true))
    }

    private func submit(encoded body: [UInt8]) async throws(StoreError) -> WriteOutcome {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<WriteOutcome, StoreError>, Never>) in
            let (accepted, wake) = state.withLock { state -> (Bool, Bool) in
                guard !state.closed else { return (false, false) }
                let id = state.nextID
                guard replies.register(id, { continuation.resume(returning: $0) }) else { return (false, false) }
                state.nextID += 1
                state.outbox.append((id, body))
                // Only the first request of a batch wakes the I/O thread: it takes the whole outbox under this lock
                // after reading the eventfd, so requests appended before it does ride on the same wake-up.
                return (true, state.outbox.count == 1)
            }
            if !accepted {
                continuation.resume(returning: .failure(.unavailable("the write queue client is closed")))
            } else if wake {
                var one: UInt64 = 1
                _ = write(wakeFD, &one, 8)
            }
        }
        return try result.get()
    }

    /// Fails every request still waiting and stops the I/O thread.
    public func shutdown() {
        let first = state.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        guard first else { return }
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
        done.wait()
        close(wakeFD)
    }

    deinit { shutdown() }

    private func run(socket: ZMQSocket, logger: Logger) {
        while true {
            let ready: (socket: Bool, fd: Bool)
            do {
                ready = try ZMQPoll.readable(socket: socket, fd: wakeFD, timeoutMilliseconds: 100)
            } catch {
                logger.critical("write client poll failed: \(error)")
                break
            }
            if ready.fd {
                var counter: UInt64 = 0
                _ = read(wakeFD, &counter, 8)
            }
            let (outbox, closed) = state.withLock { state in
                defer { state.outbox.removeAll(keepingCapacity: true) }
                return (state.outbox, state.closed)
            }
            if closed { break }
            for (id, body) in outbox {
                do {
                    try socket.send([WriteWire.frame(id), body])
                } catch {
                    replies.resume(id, with: .failure(.unavailable("send to \(endpoint) failed: \(error)")))
                }
            }
            guard ready.socket else { continue }
            do {
                while let frames = try socket.receive(blocking: false) {
                    guard frames.count == 2, let id = WriteWire.requestID(frames[0]) else { continue }
                    replies.resume(id, with: QueueCodec.decodeReply(frames[1]))
                }
            } catch {
                logger.error("write client receive failed: \(error)")
            }
        }
        state.withLock { $0.closed = true }
        replies.failAll(.unavailable("the write queue client closed before the writer answered"))
    }
}
