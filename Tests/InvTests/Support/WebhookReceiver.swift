import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An HTTP server on 127.0.0.1 that records every request (body, `X-Inv-Warehouse`, arrival time) and answers as
/// told: a real endpoint for a node's alert webhook to POST to.
///
/// It runs on NIO's event loop threads, not on Swift concurrency's: it keeps answering while a test blocks its own
/// thread waiting on `inv` processes, as every test here does. Call ``stop()`` (e.g. in a `defer`) when done.
final class WebhookReceiver: Sendable {
    /// How the receiver answers the `n`th request (counting from 1).
    enum Answer: Sendable {
        /// 503 Service Unavailable to the first `count` requests, then 200 OK.
        case unavailableFirst(Int)
        /// This status code to every request.
        case always(Int)
    }

    /// One request as it arrived, and what it was answered.
    struct Request: Sendable, CustomStringConvertible {
        var method: String
        var uri: String
        var contentType: String?
        var warehouse: String?
        var body: String
        var arrival: ContinuousClock.Instant
        /// The status code it was answered.
        var status: Int

        var description: String { "\(method) \(uri) [\(warehouse ?? "-")] \(body) -> \(status)" }
    }

    let port: Int
    private let log: RequestLog
    private let server: any Channel

    init(answer: Answer) throws {
        let log = RequestLog(answer: answer)
        self.log = log
        server = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                log.connections.withLock { $0.append(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(RecordingHandler(log: log))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .wait()
        guard let port = server.localAddress?.port else { throw HarnessError("the webhook receiver has no port") }
        self.port = port
    }

    /// Where a node's `webhook_url` should point.
    var url: String { "http://127.0.0.1:\(port)/hooks/inv" }

    /// Every request so far, in arrival order.
    var requests: [Request] { log.received.withLock { $0 } }

    /// Waits (polling, bounded by `timeout`) until at least `count` requests have arrived.
    ///
    /// - Returns: every request so far, which may be fewer than `count` if `timeout` passed.
    func waitForRequests(_ count: Int, within timeout: Duration) -> [Request] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let now = requests
            if now.count >= count || ContinuousClock.now >= deadline { return now }
            usleep(20_000)
        }
    }

    /// Stops listening and closes every connection still open.
    func stop() {
        try? server.close().wait()
        for connection in log.connections.withLock({ $0 }) { try? connection.close().wait() }
    }
}

/// What the receiver has seen: its requests and connections, shared by every connection's handler.
private final class RequestLog: Sendable {
    let answer: WebhookReceiver.Answer
    let received = Mutex<[WebhookReceiver.Request]>([])
    let connections = Mutex<[any Channel]>([])

    init(answer: WebhookReceiver.Answer) { self.answer = answer }

    /// Records a complete request and decides the status it gets.
    func record(_ head: HTTPRequestHead, body: String) -> HTTPResponseStatus {
        received.withLock { received in
            let status: HTTPResponseStatus
            switch answer {
            case .unavailableFirst(let count): status = received.count < count ? .serviceUnavailable : .ok
            case .always(let code): status = HTTPResponseStatus(statusCode: code)
            }
            received.append(WebhookReceiver.Request(
                method: head.method.rawValue, uri: head.uri, contentType: head.headers.first(name: "Content-Type"),
                warehouse: head.headers.first(name: "X-Inv-Warehouse"), body: body, arrival: .now,
                status: Int(status.code)))
            return status
        }
    }
}

/// Collects one request's head and body, asks the receiver for a status, and answers with an empty body.
private final class RecordingHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let log: RequestLog
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()

    init(log: RequestLog) { self.log = log }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
        case .body(var part):
            body.writeBuffer(&part)
        case .end:
            guard let head else { return context.close(promise: nil) }
            let status = log.record(head, body: String(buffer: body))
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: "0")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
