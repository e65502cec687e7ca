import Foundation
import Glibc

/// A value of RESP2, the Redis protocol: what a reply can be.
enum RESPValue: Equatable {
    case simple(String)
    case error(String)
    case integer(Int64)
    /// Nil is the null bulk string.
    case bulk([UInt8]?)
    /// Nil is the null array (an `XREAD` that timed out, say).
    case array([RESPValue]?)

    /// A simple or bulk string as text.
    var text: String? {
        switch self {
        case .simple(let text): text
        case .bulk(let bytes?): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }
}

/// A TCP connection to a Redis server on 127.0.0.1 that sends commands as RESP arrays of bulk strings, over a
/// blocking socket.
///
/// Only the socket is shared: any thread may send, and one ``RESPReader`` per connection, on one thread, reads the
/// replies (in the order the commands were sent, as Redis answers them). ``shutdown()`` wakes a reader blocked in
/// `recv`, which then sees the end of the stream.
struct RESPConnection: Sendable {
    let fd: Int32

    /// Connects to `127.0.0.1:port`, with Nagle's algorithm off (each command leaves at once).
    ///
    /// - Parameter receiveTimeout: seconds a read may block before it fails; nil blocks for as long as it takes
    ///   (a blocking `XREAD` waits for the next entry).
    static func connect(port: Int, receiveTimeout: Double? = 30) throws -> RESPConnection {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket(): \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        if let receiveTimeout {
            var limit = timeval(tv_sec: Int(receiveTimeout), tv_usec: Int((receiveTimeout - receiveTimeout.rounded(.down)) * 1e6))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw BenchError("cannot connect to 127.0.0.1:\(port): \(reason)")
        }
        return RESPConnection(fd: fd)
    }

    /// Sends `commands` in one write (pipelined): each is a command name and its arguments.
    func send(_ commands: [[String]]) throws {
        var bytes: [UInt8] = []
        for command in commands {
            bytes += Array("*\(command.count)\r\n".utf8)
            for argument in command {
                let utf8 = Array(argument.utf8)
                bytes += Array("$\(utf8.count)\r\n".utf8) + utf8 + [13, 10]
            }
        }
        var sent = 0
        while sent < bytes.count {
            let written = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if written < 0 {
                if errno == EINTR { continue }
                throw BenchError("sending to Redis: \(String(cString: strerror(errno)))")
            }
            sent += written
        }
    }

    /// Sends one command and reads its reply (for set-up and checks, not for what is measured).
    func call(_ command: String...) throws -> RESPValue {
        var reader = RESPReader(connection: self)
        try send([command])
        return try reader.read()
    }

    /// Ends the connection both ways: a reader blocked on it returns (and fails with "connection closed").
    func shutdown() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    func close() { _ = Glibc.close(fd) }
}

/// Reads RESP replies from a ``RESPConnection``, blocking until each is complete.
struct RESPReader {
    let connection: RESPConnection
    private var buffer: [UInt8] = []
    private var position = 0

    init(connection: RESPConnection) { self.connection = connection }

    mutating func read() throws -> RESPValue {
        let line = try readLine()
        guard let kind = line.first else { throw BenchError("Redis sent an empty line") }
        let rest = String(decoding: line.dropFirst(), as: UTF8.self)
        switch kind {
        case UInt8(ascii: "+"): return .simple(rest)
        case UInt8(ascii: "-"): return .error(rest)
        case UInt8(ascii: ":"):
            guard let value = Int64(rest) else { throw BenchError("Redis sent a bad integer: \(rest)") }
            return .integer(value)
        case UInt8(ascii: "$"):
            guard let length = Int(rest), length >= -1 else { throw BenchError("Redis sent a bad bulk length: \(rest)") }
            if length == -1 { return .bulk(nil) }
            let bytes = try readBytes(length + 2)
            return .bulk(Array(bytes.dropLast(2)))
        case UInt8(ascii: "*"):
            guard let count = Int(rest), count >= -1 else { throw BenchError("Redis sent a bad array length: \(rest)") }
            if count == -1 { return .array(nil) }
            var elements: [RESPValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count { elements.append(try read()) }
            return .array(elements)
        default:
            throw BenchError("Redis sent an unknown reply type: \(String(decoding: line, as: UTF8.self))")
        }
    }

    /// The next line, without its CR LF.
    private mutating func readLine() throws -> ArraySlice<UInt8> {
        while true {
            if let newline = buffer[position...].firstIndex(of: 10) {
                guard newline > position, buffer[newline - 1] == 13 else { throw BenchError("Redis ended a line without CR LF") }
                let line = buffer[position..<(newline - 1)]
                position = newline + 1
                return line
            }
            try fill()
        }
    }

    private mutating func readBytes(_ count: Int) throws -> ArraySlice<UInt8> {
        while buffer.count - position < count { try fill() }
        defer { position += count }
        return buffer[position..<(position + count)]
    }

    /// Appends what the socket has (at least one byte), first dropping what has been read.
    private mutating func fill() throws {
        if position > 0 {
            buffer.removeSubrange(0..<position)
            position = 0
        }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let received = chunk.withUnsafeMutableBytes { Glibc.recv(connection.fd, $0.baseAddress, $0.count, 0) }
            if received > 0 {
                buffer += chunk[0..<received]
                return
            }
            if received == 0 { throw BenchError("Redis closed the connection") }
            if errno == EINTR { continue }
            throw BenchError("reading from Redis: \(String(cString: strerror(errno)))")
        }
    }
}
