import CRDT
import Foundation
import NIOCore
import Store
import SyncServer
import Testing

/// The frames of a live peer stream, decoded from chunks cut anywhere, without sockets: whole frames come out in
/// order whatever the cuts, an oversized length is refused before its bytes arrive, a stream that ends inside a
/// frame is refused, and a zero-length frame is a heartbeat.
@Suite("StreamFrame: the length-prefixed frames of a live peer stream")
struct StreamFrameTests {
    /// The frames of `frames` encoded back to back.
    static func wire(_ frames: [StreamFrame]) -> ByteBuffer {
        var bytes = ByteBuffer()
        for frame in frames {
            switch frame {
            case .heartbeat: bytes.writeImmutableBuffer(StreamFrame.heartbeatBytes)
            case .page(let page): bytes.writeImmutableBuffer(StreamFrame.encode(page: page))
            }
        }
        return bytes
    }

    /// Feeds `bytes` to a decoder in chunks ending at `cuts`, taking every frame after each chunk.
    static func decode(_ bytes: ByteBuffer, cuts: [Int], maxFrameBytes: Int = 1 << 20) throws -> [StreamFrame] {
        var decoder = StreamFrameDecoder(maxFrameBytes: maxFrameBytes)
        var frames: [StreamFrame] = []
        var start = 0
        for end in cuts.sorted() + [bytes.readableBytes] where end >= start {
            decoder.append(bytes.getSlice(at: bytes.readerIndex + start, length: end - start)!)
            start = end
            while let frame = try decoder.next() { frames.append(frame) }
        }
        try decoder.finish()
        return frames
    }

    static func page(_ text: String) -> StreamFrame { .page(ByteBuffer(string: text)) }

    @Test("frames split at every byte boundary come out whole and in order")
    func everySplit() throws {
        let frames: [StreamFrame] = [Self.page("first page"), .heartbeat, Self.page("x"), .heartbeat, .heartbeat, Self.page("the third")]
        let bytes = Self.wire(frames)
        #expect(try Self.decode(bytes, cuts: []) == frames)
        for cut in 0...bytes.readableBytes {
            #expect(try Self.decode(bytes, cuts: [cut]) == frames, "cut at \(cut)")
        }
        // One byte at a time.
        #expect(try Self.decode(bytes, cuts: Array(0...bytes.readableBytes)) == frames)
    }

    @Test("random frames in random chunks round-trip (seeded)")
    func randomChunks() throws {
        let seed = SplitMix64.testSeed()
        var random = SplitMix64(seed: seed)
        for run in 0..<200 {
            let frames: [StreamFrame] = (0..<Int.random(in: 0...12, using: &random)).map { _ in
                if Int.random(in: 0..<4, using: &random) == 0 { return .heartbeat }
                return .page(ByteBuffer(bytes: (0..<Int.random(in: 1...3_000, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }))
            }
            let bytes = Self.wire(frames)
            let cuts = (0..<Int.random(in: 0...20, using: &random)).map { _ in Int.random(in: 0...bytes.readableBytes, using: &random) }
            #expect(try Self.decode(bytes, cuts: cuts) == frames, "seed \(seed), run \(run)")
        }
    }

    @Test("a zero-length frame is a heartbeat, alone or between pages")
    func heartbeat() throws {
        #expect(StreamFrame.heartbeatBytes.readableBytesView.elementsEqual([0, 0, 0, 0]))
        #expect(try Self.decode(StreamFrame.heartbeatBytes, cuts: [2]) == [.heartbeat])
    }

    @Test("a length above the limit is refused as soon as the prefix arrives, before its bytes")
    func oversized() throws {
        var decoder = StreamFrameDecoder(maxFrameBytes: 100)
        var prefix = ByteBuffer()
        prefix.writeInteger(UInt32(101), endianness: .big)
        decoder.append(prefix)
        #expect(throws: StreamFrameError.oversized(length: 101, limit: 100)) { try decoder.next() }
        // The largest length the prefix can say, on any platform.
        var largest = StreamFrameDecoder(maxFrameBytes: SyncProtocol.maxFrameBytes)
        largest.append(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF]))
        #expect(throws: StreamFrameError.self) { try largest.next() }
        // Exactly the limit is taken.
        let full = StreamFrame.page(ByteBuffer(repeating: 7, count: 100))
        #expect(try Self.decode(Self.wire([full]), cuts: [3, 50], maxFrameBytes: 100) == [full])
    }

    @Test("a stream that ends inside a frame is refused at its end, at every truncation")
    func truncated() throws {
        let bytes = Self.wire([Self.page("one"), .heartbeat, Self.page("two pages")])
        let whole = [4 + 3, 4 + 3 + 4, bytes.readableBytes]
        for length in 0..<bytes.readableBytes {
            let cut = bytes.getSlice(at: 0, length: length)!
            if length == 0 || whole.contains(length) {
                #expect(throws: Never.self, "length \(length)") { try Self.decode(cut, cuts: []) }
            } else {
                #expect(throws: StreamFrameError.self, "length \(length)") { try Self.decode(cut, cuts: []) }
            }
        }
        var decoder = StreamFrameDecoder(maxFrameBytes: 100)
        decoder.append(ByteBuffer(bytes: [0, 0, 0, 9, 1, 2]))
        #expect(try decoder.next() == nil)
        #expect(throws: StreamFrameError.truncated(have: 6, expected: 13)) { try decoder.finish() }
    }

    @Test("a frame carries a real operation page as encodeProven sends it, which inflates as the writer takes it")
    func realPage() throws {
        let page = try OperationPage.encode([])
        let frames = try Self.decode(StreamFrame.encode(page: page), cuts: [1, 5])
        guard case .page(let received) = try #require(frames.first) else { Issue.record("not a page"); return }
        #expect(received == page)
        #expect(try OperationPage.decode(received).isEmpty)
    }
}
