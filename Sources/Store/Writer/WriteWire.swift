import Foundation

/// The frames of the write queue: `[request id (8 bytes, little endian)][body]`, bodies as in ``QueueCodec``.
///
/// Requests carry a ``WriteRequestEnvelope``, replies a ``WriteReply``; each body holds its format version, and a
/// body of an unknown version is answered with an error rather than guessed at.
enum WriteWire {
    static let version = 1

    /// The routing id of the in-process client (``InProcessWriteClient``): the writer resumes its requests
    /// directly instead of replying over ZMQ. libzmq generates other clients' ids with a leading zero byte.
    static let inProcessRoutingID = Array("inv-in-process".utf8)

    static func frame(_ id: UInt64) -> [UInt8] { withUnsafeBytes(of: id.littleEndian) { Array($0) } }

    static func requestID(_ frame: [UInt8]) -> UInt64? {
        guard frame.count == 8 else { return nil }
        var value: UInt64 = 0
        for (index, byte) in frame.enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
        return value
    }
}

struct WriteRequestEnvelope: Codable {
    var v: Int
    var command: WriteCommand
}

/// The writer's answer to one request.
struct WriteReply: Codable {
    var v: Int
    var outcome: WriteOutcome?
    var error: StoreError?

    var result: Result<WriteOutcome, StoreError> {
        if let outcome { return .success(outcome) }
        return .failure(error ?? .storage("empty reply"))
    }
}
