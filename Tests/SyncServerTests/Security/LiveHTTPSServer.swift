import AsyncHTTPClient
import Hummingbird
import HummingbirdTLS
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle
import SwiftASN1
import Synchronization
@testable import SyncServer
import X509

/// A request context that keeps the connection's channel, so a handler can ask NIOSSL for the peer certificate.
struct PeerCertificateContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Counts the requests that reached a handler, to prove a refused client never got that far.
final class RequestCounter: Sendable {
    private let count = Atomic(0)
    var value: Int { count.load(ordering: .relaxed) }
    func increment() { count.add(1, ordering: .relaxed) }
}

/// A live Hummingbird 2 HTTPS server on 127.0.0.1, port 0, for the length of a closure.
///
/// It serves `GET /whoami`, answering the warehouse named by the client's verified certificate, `anonymous` when
/// the client presented none, or `unknown` when the certificate names no warehouse; and `GET /serial`, answering
/// that certificate's serial number.
enum LiveHTTPSServer {
    struct DidNotStart: Error {}

    /// A port on 127.0.0.1 that was free a moment ago: bound, then closed.
    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close()
        return port
    }

    static func run(
        tls: TLSConfiguration, _ body: (_ port: Int, _ requests: RequestCounter) async throws -> Void
    ) async throws {
        let requests = RequestCounter()
        let router = Router(context: PeerCertificateContext.self)
        router.get("whoami") { _, context -> String in
            requests.increment()
            guard let peer = try await context.channel.nioSSL_peerCertificate().get() else { return "anonymous" }
            return ClusterCA.warehouse(of: try Certificate(derEncoded: peer.toDERBytes())) ?? "unknown"
        }
        router.get("serial") { _, context -> String in
            requests.increment()
            guard let peer = try await context.channel.nioSSL_peerCertificate().get() else { return "anonymous" }
            return CertificateSummary(try Certificate(derEncoded: peer.toDERBytes())).serial
        }
        // A connection still closing when the server shuts down waits up to `shutdownTimeout` (5 s by default) for
        // the client's close_notify, which a client that has already gone never sends; only that wait is shortened.
        var tls = tls
        tls.shutdownTimeout = .milliseconds(200)
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router,
            server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portSink.yield(channel.localAddress?.port ?? -1)
                portSink.finish()
            }
        )
        let services = ServiceGroup(
            configuration: .init(services: [app], gracefulShutdownSignals: [], logger: app.logger))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { portSink.finish() }
                try await services.run()
            }
            do {
                guard let port = await ports.first(where: { _ in true }), port > 0 else {
                    try await group.waitForAll()  // surfaces why the server stopped, if it threw
                    throw DidNotStart()
                }
                try await body(port, requests)
            } catch {
                await services.triggerGracefulShutdown()
                throw error
            }
            await services.triggerGracefulShutdown()
            try await group.waitForAll()
        }
    }
}

/// One HTTPS GET with AsyncHTTPClient, on a client of its own that is shut down before returning.
///
/// Connection attempts are not retried, so a refused handshake fails the request at once; everything is bounded
/// by a 10-second deadline.
enum HTTPSProbe {
    /// Names the tests dial that resolve to 127.0.0.1 (certificate checks still use the name).
    static let dnsOverride = ["node-a.inv.test": "127.0.0.1", "stranger.inv.test": "127.0.0.1"]

    static func get(
        host: String = "127.0.0.1", port: Int, path: String = "/whoami", tls: TLSConfiguration
    ) async throws -> Result<(status: Int, body: String), any Error> {
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, timeout: .init(connect: .seconds(5), read: .seconds(5)))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.dnsOverride = dnsOverride
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        let result: Result<(status: Int, body: String), any Error>
        do {
            let response = try await client.execute(
                HTTPClientRequest(url: "https://\(host):\(port)\(path)"), deadline: .now() + .seconds(10))
            let body = try await response.body.collect(upTo: 64 * 1024)
            result = .success((Int(response.status.code), String(buffer: body)))
        } catch {
            result = .failure(error)
        }
        try await client.shutdown()
        return result
    }
}

extension Result where Failure == any Error {
    /// The kind of transport failure this outcome failed with, as the sync rounds tell it.
    var transportFailure: TransportFailure? {
        guard case .failure(let error) = self else { return nil }
        return TransportFailure(error)
    }

    /// The line a sync round would report for this outcome's failure.
    var failureLine: String? {
        guard case .failure(let error) = self else { return nil }
        return SyncFailure.describe(error)
    }

    /// The description of the TLS error this outcome failed with; `nil` if it succeeded or failed in another way
    /// (a refused TCP connection, a timeout), so a test cannot mistake an unreachable server for a refusal.
    var tlsRefusal: String? {
        guard case .failure(let error) = self,
            error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError
        else { return nil }
        return String(describing: error)
    }
}
