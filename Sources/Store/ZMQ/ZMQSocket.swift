import CZMQ

/// One libzmq socket.
///
/// libzmq sockets are not thread safe: one thread at a time may use a socket, and a socket that changes threads
/// needs a memory fence between uses, which is why this type is not `Sendable`. The writer and the `ipc://`
/// writer client each own theirs on a dedicated thread; the in-process client keeps its own behind a lock.
public final class ZMQSocket {
    public enum Kind {
        case router, dealer

        var rawValue: Int32 {
            switch self {
            case .router: ZMQ_ROUTER
            case .dealer: ZMQ_DEALER
            }
        }
    }

    let handle: UnsafeMutableRawPointer
    private var closed = false

    public init(context: ZMQContext, kind: Kind) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, kind.rawValue) else { throw ZMQError.last("zmq_socket") }
        self.handle = handle
        // Pending messages must never keep a closing process alive.
        try setOption(ZMQ_LINGER, 0)
        // Unbounded queues: flow is bounded by callers awaiting their acknowledgements, and a bounded ROUTER
        // would silently drop replies when full.
        try setOption(ZMQ_SNDHWM, 0)
        try setOption(ZMQ_RCVHWM, 0)
        if kind == .router {
            // Fail loudly (EHOSTUNREACH) rather than drop a reply for a peer that went away.
            try setOption(ZMQ_ROUTER_MANDATORY, 1)
        }
    }

    deinit { close() }

    public func close() {
        guard !closed else { return }
        closed = true
        zmq_close(handle)
    }

    public func setOption(_ option: Int32, _ value: Int32) throws(ZMQError) {
        var value = value
        if zmq_setsockopt(handle, option, &value, MemoryLayout<Int32>.size) != 0 {
            throw ZMQError.last("zmq_setsockopt(\(option))")
        }
    }

    public func setOption(_ option: Int32, bytes: [UInt8]) throws(ZMQError) {
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        if rc != 0 { throw ZMQError.last("zmq_setsockopt(\(option))") }
    }

    public func bind(_ endpoint: String) throws(ZMQError) {
        if zmq_bind(handle, endpoint) != 0 { throw ZMQError.last("zmq_bind(\(endpoint))") }
    }

    public func connect(_ endpoint: String) throws(ZMQError) {
        if zmq_connect(handle, endpoint) != 0 { throw ZMQError.last("zmq_connect(\(endpoint))") }
    }

    /// Sends one multipart message.
    ///
    /// - Returns: `false` when `blocking` is false and the message could not be queued at once.
    @discardableResult
    public func send(_ frames: [[UInt8]], blocking: Bool = true) throws(ZMQError) -> Bool {
        for (index, frame) in frames.enumerated() {
            var flags: Int32 = blocking ? 0 : ZMQ_DONTWAIT
            if index < frames.count - 1 { flags |= ZMQ_SNDMORE }
            while true {
                let rc = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
                if rc >= 0 { break }
                let error = ZMQError.last("zmq_send")
                if error.interrupted { continue }
                // libzmq queues multipart messages atomically: EAGAIN can only come on the first frame.
                if error.wouldBlock && index == 0 { return false }
                throw error
            }
        }
        return true
    }

    /// Receives one multipart message.
    ///
    /// - Returns: `nil` when `blocking` is false and no message is waiting.
    public func receive(blocking: Bool = true) throws(ZMQError) -> [[UInt8]]? {
        var frames: [[UInt8]] = []
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        defer { zmq_msg_close(&message) }
        while true {
            let flags: Int32 = (blocking || !frames.isEmpty) ? 0 : ZMQ_DONTWAIT
            let rc = zmq_msg_recv(&message, handle, flags)
            if rc < 0 {
                let error = ZMQError.last("zmq_msg_recv")
                if error.interrupted { continue }
                if error.wouldBlock && frames.isEmpty { return nil }
                throw error
            }
            let size = zmq_msg_size(&message)
            if size == 0 {
                frames.append([])
            } else {
                let base = zmq_msg_data(&message)!.assumingMemoryBound(to: UInt8.self)
                frames.append(Array(UnsafeBufferPointer(start: base, count: size)))
            }
            if zmq_msg_more(&message) == 0 { return frames }
        }
    }
}

/// Waits until a socket or a file descriptor is readable.
enum ZMQPoll {
    /// - Returns: which of the items are readable, in order.
    static func readable(socket: ZMQSocket, fd: Int32? = nil, timeoutMilliseconds: Int) throws(ZMQError) -> (socket: Bool, fd: Bool) {
        var items = [zmq_pollitem_t(socket: socket.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)]
        if let fd { items.append(zmq_pollitem_t(socket: nil, fd: fd, events: Int16(ZMQ_POLLIN), revents: 0)) }
        let rc = zmq_poll(&items, Int32(items.count), timeoutMilliseconds)
        if rc < 0 {
            let error = ZMQError.last("zmq_poll")
            if error.interrupted { return (false, false) }
            throw error
        }
        let socketReady = items[0].revents & Int16(ZMQ_POLLIN) != 0
        let fdReady = items.count > 1 && items[1].revents & Int16(ZMQ_POLLIN) != 0
        return (socketReady, fdReady)
    }
}
