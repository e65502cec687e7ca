import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import SyncServer

/// `StalledWriteGuard` races a write against a time limit. The writes here are stand-ins for a response body's
/// writer: one that completes, one that fails, and one that waits until its connection is closed (`abort`).
@Suite("StalledWriteGuard: a write that outlasts its limit closes its connection", .timeLimit(.minutes(3)))
struct StalledWriteGuardTests {
    /// A connection whose write waits until it is closed, as a write to a subscriber that stopped reading does.
    final class StuckConnection: Sendable {
        struct Closed: Error {}
        private let state = Mutex<(closed: Bool, writer: CheckedContinuation<Void, any Error>?)>((false, nil))

        var isClosed: Bool { state.withLock { $0.closed } }

        func write() async throws {
            try await withCheckedThrowingContinuation { continuation in
                let closed = state.withLock { state -> Bool in
                    if !state.closed { state.writer = continuation }
                    return state.closed
                }
                if closed { continuation.resume(throwing: Closed()) }
            }
        }

        func close() {
            let writer = state.withLock { state in
                state.closed = true
                return state.writer.take()
            }
            writer?.resume(throwing: Closed())
        }
    }

    @Test("a write that completes within the limit is written, and the connection is left open")
    func completedWrite() async throws {
        let connection = StuckConnection()
        let outcome = try await StalledWriteGuard(limitSeconds: 3_600, abort: { connection.close() }).write {}
        #expect(outcome == .written)
        #expect(!connection.isClosed)
    }

    @Test("a write that fails on its own throws its error; the connection is not closed by the guard")
    func failedWrite() async {
        struct Reset: Error {}
        let connection = StuckConnection()
        await #expect(throws: Reset.self) {
            try await StalledWriteGuard(limitSeconds: 3_600, abort: { connection.close() }).write { throw Reset() }
        }
        #expect(!connection.isClosed)
    }

    @Test("a write still waiting at the limit is stalled: the connection is closed under it, and its error is swallowed")
    func stalledWrite() async throws {
        let connection = StuckConnection()
        // Only the guard's abort ends this write: without it, the suite's time limit fails the test.
        let outcome = try await StalledWriteGuard(limitSeconds: 0.05, abort: { connection.close() }).write { try await connection.write() }
        #expect(outcome == .stalled)
        #expect(connection.isClosed)
    }

    /// The assumption the served streams rest on, on a real socket: a response body's write to a client that stopped
    /// reading waits (the socket's buffers are full), and closing the connection under it makes it fail.
    @Test("a response body written to a client that stopped reading stalls, and closing its connection ends the write")
    func stalledResponseBody() async throws {
        let (outcomes, reported) = AsyncStream.makeStream(of: StalledWriteGuard.Outcome.self)
        let router = Router(context: InvRequestContext.self)
        router.get("flood") { _, context in
            let channel = context.channel
            return Response(status: .ok, body: ResponseBody { writer in
                let chunk = ByteBuffer(repeating: 0x2A, count: 1 << 16)
                let stallGuard = StalledWriteGuard(limitSeconds: 0.5, abort: { channel.close(promise: nil) })
                defer { stallGuard.stop() }
                while true {
                    let outcome = try await stallGuard.write { try await writer.write(chunk) }
                    guard outcome == .written else {
                        reported.yield(outcome)
                        reported.finish()
                        return
                    }
                }
            })
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            // A client that sends its request and never reads: the server's writes fill the socket's buffers.
            let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.autoRead, value: false)
                .connect(host: "127.0.0.1", port: port).get()
            try await connection.writeAndFlush(ByteBuffer(string: "GET /flood HTTP/1.1\r\nHost: localhost\r\n\r\n")).get()
            // Only a stalled write that the guard ended reports here: without it, the suite's time limit fails the test.
            var first: StalledWriteGuard.Outcome?
            for await outcome in outcomes {
                first = outcome
                break
            }
            #expect(first == .stalled)
            try? await connection.close().get()
        }
    }
}
