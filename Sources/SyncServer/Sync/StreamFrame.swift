import NIOCore

/// The frames of a live stream (`POST /v1/sync/stream`): each a 4-byte big-endian length, then that many bytes of
/// one ``OperationPage`` as ``OperationPage/encodeProven(from:missingFrom:limit:maxBytes:origins:)`` encodes it. A
/// zero length is a heartbeat: it carries nothing and tells each side that the other is still there.
///
/// The codec is pure: ``StreamFrameDecoder`` takes the body's chunks as they arrive, however the network cut them,
/// and hands out whole frames; it holds at most one frame's bytes, bounded by its `maxFrameBytes`.
public enum StreamFrame: Equatable, Sendable {
    case heartbeat
    case page(ByteBuffer)

    /// Bytes of the length prefix.
    public static let headerBytes = 4

    /// The encoded frame: length prefix, then the page.
    public static func encode(page: ByteBuffer) -> ByteBuffer {
        var frame = ByteBuffer()
        frame.reserveCapacity(headerBytes + page.readableBytes)
        frame.writeInteger(UInt32(page.readableBytes), endianness: .big)
        frame.writeImmutableBuffer(page)
        return frame
    }

    /// The zero-length frame.
    public static var heartbeatBytes: ByteBuffer {
        var frame = ByteBuffer()
        frame.writeInteger(UInt32(0), endianness: .big)
        return frame
    }
}

/// Why a stream's bytes are not a sequence of frames.
public enum StreamFrameError: Error, Equatable, CustomStringConvertible {
    /// A frame announced more bytes than the receiver takes.
    case oversized(length: Int, limit: Int)
    /// The stream ended inside a frame (`have` of its `expected` bytes, prefix included).
    case truncated(have: Int, expected: Int)

    public var description: String {
        switch self {
        case .oversized(let length, let limit): "a stream frame of \(length) bytes is larger than the \(limit) bytes taken"
        case .truncated(let have, let expected): "the stream ended inside a frame (\(have) of \(expected) bytes)"
        }
    }
}

/// Splits a stream's bytes into ``StreamFrame``s: `append` each chunk as it arrives, then take frames with `next()`
/// until it answers `nil`; at the end of the stream, `finish()` refuses a frame cut short.
public struct StreamFrameDecoder: Sendable {
    public let maxFrameBytes: Int
    private var buffer = ByteBuffer()

    public init(maxFrameBytes: Int) { self.maxFrameBytes = maxFrameBytes }

    /// Bytes received and not yet handed out as frames.
    public var pendingBytes: Int { buffer.readableBytes }

    public mutating func append(_ chunk: ByteBuffer) {
        var chunk = chunk
        if buffer.readableBytes == 0 {
            buffer = chunk
        } else {
            // What frames were already taken from is dropped before the buffer grows.
            if buffer.readerIndex > 0 { buffer.discardReadBytes() }
            buffer.writeBuffer(&chunk)
        }
    }

    /// The next whole frame, or `nil` when the bytes received so far hold none.
    ///
    /// - Throws: ``StreamFrameError/oversized(length:limit:)`` as soon as a length prefix announces more than
    ///   `maxFrameBytes`, before its bytes arrive.
    public mutating func next() throws(StreamFrameError) -> StreamFrame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else { return nil }
        guard Int(length) <= maxFrameBytes else { throw .oversized(length: Int(length), limit: maxFrameBytes) }
        guard buffer.readableBytes >= StreamFrame.headerBytes + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: StreamFrame.headerBytes)
        if length == 0 { return .heartbeat }
        guard let page = buffer.readSlice(length: Int(length)) else { return nil }
        if buffer.readableBytes == 0 { buffer = ByteBuffer() }
        return .page(page)
    }

    /// The stream ended: throws when it ended inside a frame.
    public func finish() throws(StreamFrameError) {
        guard buffer.readableBytes > 0 else { return }
        let expected = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self).map { StreamFrame.headerBytes + Int($0) }
        throw .truncated(have: buffer.readableBytes, expected: expected ?? StreamFrame.headerBytes)
    }
}
