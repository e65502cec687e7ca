import CZMQ
import Synchronization

/// Submits this process's write commands to the writer over ZMQ, without a thread of its own.
///
/// The submitting task sends its request itself on a DEALER socket connected to the writer's `inproc://`
/// endpoint, under a lock (a libzmq socket may change threads when each use is fenced, which the lock does).
/// The socket only ever sends, so nothing polls it. The writer recognises the socket by its routing id
/// (``WriteWire/inProcessRoutingID``) and resumes the waiting task itself after the commit, through the shared
/// ``PendingReplies``. Other processes use ``WriteQueueClient`` over `ipc://`, with replies over ZMQ.
///
/// Requests from one client reach the writer in submission order (one socket, sends serialised by the lock); each
/// answer comes only after the writer committed the request's transaction. Sends never block: the socket's queue
/// is unbounded, and bounded in practice by the tasks awaiting their answers.
final class InProcessWriteClient: Sendable {
    private struct State {
        var socket: ZMQSocket?
        var nextID: UInt64 = 1
    }

    private let state: Mutex<State>
    private let replies: PendingReplies
    private let prepared: PreparedMerges
    private let endpoint: String

    /// Connects to the writer's `inproc://` endpoint; the writer must resume requests through `replies` and take
    /// prepared merges from `prepared`.
    init(context: ZMQContext, endpoint: String, replies: PendingReplies, prepared: PreparedMerges) throws {
        let socket = try ZMQSocket(context: context, kind: .dealer)
        try socket.setOption(ZMQ_ROUTING_ID, bytes: WriteWire.inProcessRoutingID)
        try socket.connect(endpoint)
        state = Mutex(State(socket: socket))
        self.replies = replies
        self.prepared = prepared
        self.endpoint = endpoint
    }

    /// Sends an encoded request (``QueueCodec``) and returns its outcome once the writer has committed it.
    func submit(encoded body: [UInt8]) async -> Result<WriteOutcome, StoreError> {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result<WriteOutcome, StoreError>, Never>) in
            send(encoded: body) { continuation.resume(returning: $0) }
        }
    }

    /// Sends a merge decoded already (a peer's page) now, behind every request sent before this call returns;
    /// `reply` gets its outcome once the writer committed it.
    func queue(prepared merge: consuming PreparedMerge, reply: @escaping PendingReplies.Reply) {
        send(encoded: [QueueCodec.preparedMerge], holding: merge, reply: reply)
    }

    /// A merge to decode into before ``queue(prepared:reply:)`` (see ``PreparedMerges/reusable()``).
    func reusableMerge() -> PreparedMerge { prepared.reusable() }

    /// Sends `body` under the next request id; `merge`, when given, is held for the writer under that id first.
    private func send(encoded body: [UInt8], holding merge: consuming PreparedMerge? = nil, reply: @escaping PendingReplies.Reply) {
        let failure: StoreError? = state.withLock { state in
            guard let socket = state.socket else { return .unavailable("the write queue client is closed") }
            let id = state.nextID
            state.nextID += 1
            guard replies.register(id, reply) else { return .unavailable("the write queue client is closed") }
            if let merge { prepared.hold(merge, for: id) }
            do {
                try socket.send([WriteWire.frame(id), body])
            } catch {
                _ = prepared.take(id)
                replies.resume(id, with: .failure(.unavailable("send to \(endpoint) failed: \(error)")))
            }
            return nil
        }
        if let failure { reply(.failure(failure)) }
    }

    /// Closes the socket and fails every request still waiting. Call after the writer stopped: requests it
    /// already took were answered by then. Idempotent.
    func shutdown() {
        let socket = state.withLock { state in
            defer { state.socket = nil }
            return state.socket
        }
        socket?.close()
        replies.failAll(.unavailable("the write queue client closed before the writer answered"))
    }
}
