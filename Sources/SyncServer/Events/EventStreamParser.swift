/// Splits a Server-Sent Events stream into events, from chunks of bytes as the network delivers them.
///
/// Lines are split on bytes (`\n`, with a `\r` before it dropped) and each complete line is decoded as UTF-8 only
/// then: a multi-byte character split across two chunks is reassembled, never replaced by U+FFFD (decoding each
/// chunk on its own did that).
public struct EventStreamParser: Sendable {
    /// One event: its `event:` name (`message` when absent) and its `data:` lines joined by `\n`.
    public struct Event: Equatable, Sendable {
        public var name: String
        public var data: String

        public init(name: String, data: String) {
            self.name = name
            self.data = data
        }
    }

    private var pending: [UInt8] = []
    private var name: String?
    private var data: [String] = []

    public init() {}

    /// Feeds the next chunk of the stream.
    ///
    /// - Returns: the events completed by this chunk (an event ends at an empty line), in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Event] {
        var events: [Event] = []
        for byte in bytes {
            guard byte == UInt8(ascii: "\n") else {
                pending.append(byte)
                continue
            }
            if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
            let line = String(decoding: pending, as: UTF8.self)
            pending.removeAll(keepingCapacity: true)
            if let event = take(line) { events.append(event) }
        }
        return events
    }

    /// One complete line: a field, a comment, or the empty line that ends an event.
    private mutating func take(_ line: String) -> Event? {
        if line.isEmpty {
            defer {
                name = nil
                data = []
            }
            guard !data.isEmpty else { return nil }
            return Event(name: name ?? "message", data: data.joined(separator: "\n"))
        }
        if line.hasPrefix(":") { return nil }
        let field: Substring
        var value: Substring
        if let colon = line.firstIndex(of: ":") {
            field = line[..<colon]
            value = line[line.index(after: colon)...]
            if value.first == " " { value = value.dropFirst() }
        } else {
            field = Substring(line)
            value = ""
        }
        switch field {
        case "event": name = String(value)
        case "data": data.append(String(value))
        default: break
        }
        return nil
    }
}
