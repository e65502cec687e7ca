import CZMQ

/// A libzmq context: the owner of I/O threads and `inproc://` endpoints.
///
/// `inproc://` endpoints are only reachable by sockets of the same context, so a node shares one context
/// between its writer and its in-process clients. libzmq documents contexts as thread safe.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public init() throws(ZMQError) {
        guard let handle = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        self.handle = handle
    }

    deinit {
        // zmq_ctx_term blocks until every socket is closed; sockets close themselves before the context goes.
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }
}
