import CZMQ

/// An error reported by libzmq, carrying its `errno` and message.
public struct ZMQError: Error, Equatable, Sendable, CustomStringConvertible {
    public let code: Int32
    public let operation: String

    /// Captures `zmq_errno()` right after a failed call.
    static func last(_ operation: String) -> ZMQError {
        ZMQError(code: zmq_errno(), operation: operation)
    }

    public var description: String {
        "\(operation): \(String(cString: zmq_strerror(code)))"
    }

    /// The call would have blocked (non-blocking send or receive).
    public var wouldBlock: Bool { code == EAGAIN }
    /// The call was interrupted by a signal; callers retry.
    public var interrupted: Bool { code == EINTR }
}
