import SyncServer
import Testing

/// `EventStreamParser`, the reader behind `inv watch`: it splits the Server-Sent Events stream into lines on bytes
/// and decodes only whole lines, so the network may cut the stream anywhere, even inside a UTF-8 character.
@Suite("EventStreamParser: events from a byte stream cut anywhere")
struct EventStreamParserTests {
    static let events = [
        EventStreamParser.Event(name: "product", data: #"{"name":"Café ☕ 𝄞","sku":"CAFE-1"}"#),
        EventStreamParser.Event(name: "movement", data: #"{"reference":"Lieferschein Nr. 7 – Müller","user":"José"}"#),
        EventStreamParser.Event(name: "alert", data: #"{"sku":"CHAIR-01","note":"椅子 🪑 ok"}"#),
        EventStreamParser.Event(name: "message", data: "Café ☕ 𝄞\nsecond line 𝄞"),
    ]

    /// The wire form of `events`, after a comment, with CRLF and LF line ends mixed.
    static let stream = Array((": connected to MAD\n\n"
        + #"event: product"# + "\r\n" + #"data: {"name":"Café ☕ 𝄞","sku":"CAFE-1"}"# + "\n\n"
        + #"event: movement"# + "\n" + #"data: {"reference":"Lieferschein Nr. 7 – Müller","user":"José"}"# + "\r\n\r\n"
        + #"event: alert"# + "\n" + #"data:{"sku":"CHAIR-01","note":"椅子 🪑 ok"}"# + "\n\n"
        + "data: Café ☕ 𝄞\ndata: second line 𝄞\n\n").utf8)

    /// The byte offsets that fall inside a multi-byte character (before a continuation byte).
    static var splitsInsideCharacters: [Int] {
        (1..<stream.count).filter { stream[$0] & 0b1100_0000 == 0b1000_0000 }
    }

    @Test("the stream holds 2-, 3- and 4-byte characters to cut")
    func theStreamHoldsMultiByteCharacters() {
        let text = "Café ☕ 𝄞"
        #expect(text.unicodeScalars.map { String($0).utf8.count }.filter { $0 > 1 } == [2, 3, 4])
        // é (1 cut), ☕ (2 cuts), 𝄞 (3 cuts), in every one of its several copies, and the others.
        #expect(Self.splitsInsideCharacters.count >= 6 * 4)
    }

    @Test("cut into two chunks at every byte: the same events")
    func everySingleCut() {
        for cut in 0...Self.stream.count {
            var parser = EventStreamParser()
            let parsed = parser.feed(Self.stream[..<cut]) + parser.feed(Self.stream[cut...])
            #expect(parsed == Self.events, "cut at byte \(cut)")
        }
    }

    @Test("cut into three chunks at every pair of byte offsets: the same events")
    func everyPairOfCuts() {
        let stream = Self.stream
        var failures = 0
        for first in 0...stream.count {
            for second in first...stream.count {
                var parser = EventStreamParser()
                let parsed = parser.feed(stream[..<first]) + parser.feed(stream[first..<second]) + parser.feed(stream[second...])
                if parsed != Self.events {
                    failures += 1
                    if failures <= 5 { Issue.record("cuts at bytes \(first) and \(second): \(parsed)") }
                }
            }
        }
        #expect(failures == 0)
    }

    @Test("every byte of every multi-byte character in its own chunk, and the whole stream one byte at a time")
    func byteByByte() {
        var parser = EventStreamParser()
        #expect(Self.stream.flatMap { parser.feed(CollectionOfOne($0)) } == Self.events)
        // Cut at every offset inside a character at once: characters arrive in pieces of one byte.
        let cuts = [0] + Self.splitsInsideCharacters.flatMap { [$0 - 1, $0] }.filter { $0 > 0 } + [Self.stream.count]
        let boundaries = Array(Set(cuts)).sorted()
        var pieces = EventStreamParser()
        var parsed: [EventStreamParser.Event] = []
        for (start, end) in zip(boundaries, boundaries.dropFirst()) { parsed += pieces.feed(Self.stream[start..<end]) }
        #expect(parsed == Self.events)
    }

    @Test("an event is given only once its blank line arrives; a line without its end is held back")
    func incompleteInput() {
        var parser = EventStreamParser()
        #expect(parser.feed(Array("data: Café".utf8)).isEmpty)
        #expect(parser.feed(Array(" ☕\n".utf8)).isEmpty)
        #expect(parser.feed(Array("\n".utf8)) == [EventStreamParser.Event(name: "message", data: "Café ☕")])
    }
}
