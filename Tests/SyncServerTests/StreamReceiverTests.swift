import AsyncHTTPClient
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import SyncServer

/// `StreamReceiver` on a real connection (plain HTTP on 127.0.0.1: the subject is the reading, not TLS): a server
/// sends frames, the receiver queues pages at a stand-in for the writer that answers when the test says so.
@Suite("StreamReceiver: a live stream read on its event loop, with at most a window of pages queued", .timeLimit(.minutes(2)))
struct StreamReceiverTests {
    /// The stand-in for the writer: records each queued page and keeps its answer until the test gives it.
    final class HeldWriter: Sendable {
        typealias Done = @Sendable (Result<Int, any Error>) -> Void
        private let state = Mutex<(pages: [[UInt8]], answers: [Done])>(([], []))

        func queue(_ page: ByteBuffer, _ done: @escaping Done) {
            state.withLock { state in
                state.pages.append(Array(buffer: page))
                state.answers.append(done)
            }
        }

        var queued: Int { state.withLock { $0.pages.count } }
        var pages: [[UInt8]] { state.withLock { $0.pages } }

        /// Answers the oldest unanswered page with `outcome`; `false` when none waits.
        func answerNext(with outcome: Result<Int, any Error>, answered: inout Int) -> Bool {
            guard let done = state.withLock({ state in answered < state.answers.count ? state.answers[answered] : nil }) else { return false }
            answered += 1
            done(outcome)
            return true
        }
    }

    /// The statuses the receiver published, in order.
    final class Statuses: Sendable {
        private let published = Mutex<[StreamStatus]>([])
        func append(_ status: StreamStatus) { published.withLock { $0.append(status) } }
        var last: StreamStatus? { published.withLock { $0.last } }
    }

    struct MergeFailed: Error, Equatable {}

    /// A server whose `POST /stream` answers `frames` page frames, each a page of one byte, its number; `cutShort`
    /// ends the body inside one more frame.
    static func server(frames: Int, cutShort: Bool = false) -> some ApplicationProtocol {
        let router = Router(context: InvRequestContext.self)
        router.post("stream") { _, _ in
            Response(status: .ok, body: ResponseBody { writer in
                for number in 0..<frames { try await writer.write(StreamFrame.encode(page: ByteBuffer(bytes: [UInt8(number)]))) }
                if cutShort { try await writer.write(ByteBuffer(bytes: [0, 0, 0, 9, 1])) }
                try await writer.finish(nil)
            })
        }
        router.post("mixed") { _, _ in
            // Small, large (queued off the event loop), small, large, small: queued in this order all the same.
            Response(status: .ok, body: ResponseBody { writer in
                for number in 0..<5 {
                    let size = number % 2 == 1 ? StreamReceiver.inlinePageBytes + 1 : 1
                    try await writer.write(StreamFrame.encode(page: ByteBuffer(repeating: UInt8(number), count: size)))
                }
                try await writer.finish(nil)
            })
        }
        router.post("refused") { _, _ in Response(status: .forbidden, body: ResponseBody(byteBuffer: ByteBuffer(string: "{\"error\":{\"code\":\"retired\"}}"))) }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    static func receiver(url: String, writer: HeldWriter, statuses: Statuses = Statuses()) -> StreamReceiver {
        var machine = StreamSubscriptionStateMachine()
        _ = machine.attemptStarted()
        return StreamReceiver(
            url: url, machine: machine,
            publish: { action in if case .publish(let status) = action { statuses.append(status) } },
            queuePage: { page, done in writer.queue(page, done) })
    }

    static func request(_ url: String) throws -> HTTPClient.Request { try HTTPClient.Request(url: url, method: .POST) }

    /// A stream opened from the test server's `path`, read by a receiver that queues at a ``HeldWriter``.
    struct OpenStream {
        let writer = HeldWriter()
        let statuses = Statuses()
        let receiver: StreamReceiver
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let task: HTTPClient.Task<Void>

        init(port: Int?, path: String) throws {
            let url = "http://127.0.0.1:\(try #require(port))/\(path)"
            receiver = StreamReceiverTests.receiver(url: url, writer: writer, statuses: statuses)
            task = http.execute(request: try StreamReceiverTests.request(url), delegate: receiver)
        }

        /// Answers every page with `operations` as the writer would, as the pages come, until `count` are answered.
        func answer(_ count: Int, with operations: Int) async throws {
            var answered = 0
            while answered < count {
                if !writer.answerNext(with: .success(operations), answered: &answered) { try await Task.sleep(for: .milliseconds(5)) }
                #expect(writer.queued - answered <= StreamReceiver.MergeWindow.limit)
            }
        }
    }

    /// Waits, briefly, until `condition` holds.
    static func eventually(_ condition: () -> Bool) async throws {
        for _ in 0..<500 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
    }

    @Test("no more than the window's pages are queued until the writer answers; then every page comes, in order")
    func backPressure() async throws {
        let frames = 12
        try await Self.server(frames: frames).test(.live) { client in
            let stream = try OpenStream(port: client.port, path: "stream")
            try await Self.eventually { stream.writer.queued >= StreamReceiver.MergeWindow.limit }
            // The server sent everything; the receiver holds the rest back while the window is full.
            try await Task.sleep(for: .milliseconds(200))
            #expect(stream.writer.queued == StreamReceiver.MergeWindow.limit)

            try await stream.answer(frames, with: 2)
            try await stream.task.get()
            await stream.receiver.drained()
            #expect(stream.writer.pages == (0..<frames).map { [UInt8($0)] })
            let last = try #require(stream.statuses.last)
            #expect(last.connected)
            #expect(last.framesReceived == frames)
            #expect(last.operationsReceived == 2 * frames)
            #expect(stream.receiver.machine.status == last)
            try await stream.http.shutdown()
        }
    }

    @Test("large pages, queued off the event loop, keep their place among small ones")
    func largePagesKeepOrder() async throws {
        try await Self.server(frames: 0).test(.live) { client in
            let stream = try OpenStream(port: client.port, path: "mixed")
            try await stream.answer(5, with: 1)
            try await stream.task.get()
            await stream.receiver.drained()
            #expect(stream.writer.pages.map { $0.first } == [0, 1, 2, 3, 4])
            let large = StreamReceiver.inlinePageBytes + 1
            #expect(stream.writer.pages.map(\.count) == [1, large, 1, large, 1])
            try await stream.http.shutdown()
        }
    }

    @Test("a merge that fails ends the stream with its error, and nothing more is queued")
    func failedMerge() async throws {
        try await Self.server(frames: 12).test(.live) { client in
            let stream = try OpenStream(port: client.port, path: "stream")
            try await Self.eventually { stream.writer.queued >= StreamReceiver.MergeWindow.limit }
            var answered = 0
            #expect(stream.writer.answerNext(with: .failure(MergeFailed()), answered: &answered))
            await #expect(throws: MergeFailed.self) { try await stream.task.get() }
            while stream.writer.answerNext(with: .success(1), answered: &answered) {}
            await stream.receiver.drained()
            #expect(stream.writer.queued == StreamReceiver.MergeWindow.limit)
            try await stream.http.shutdown()
        }
    }

    @Test("a refusal throws the peer's answer; a body cut inside a frame throws truncated; neither queues a page")
    func refusalAndTruncation() async throws {
        try await Self.server(frames: 2, cutShort: true).test(.live) { client in
            let base = "http://127.0.0.1:\(try #require(client.port))"
            let http = HTTPClient(eventLoopGroupProvider: .singleton)

            let refusedWriter = HeldWriter()
            let refused = Self.receiver(url: base + "/refused", writer: refusedWriter)
            let error = await #expect(throws: SyncFailure.self) {
                try await http.execute(request: try Self.request(base + "/refused"), delegate: refused).get()
            }
            #expect(error?.code == "retired")
            #expect(error?.description.contains("answered 403") == true)
            #expect(refusedWriter.queued == 0)

            let cutWriter = HeldWriter()
            let cut = Self.receiver(url: base + "/stream", writer: cutWriter)
            let task = http.execute(request: try Self.request(base + "/stream"), delegate: cut)
            try await Self.eventually { cutWriter.queued == 2 }
            var answered = 0
            while cutWriter.answerNext(with: .success(1), answered: &answered) {}
            await #expect(throws: StreamFrameError.truncated(have: 5, expected: 13)) { try await task.get() }
            await cut.drained()
            #expect(cutWriter.queued == 2)
            try await http.shutdown()
        }
    }
}
