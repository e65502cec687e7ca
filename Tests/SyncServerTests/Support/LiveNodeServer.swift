import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle
import SyncServer

/// A node's real HTTPS application (`buildApplication` with the node's own certificate) on 127.0.0.1, port 0, for
/// the length of a closure, with an AsyncHTTPClient that trusts only the node's cluster CA. For what the router
/// test client cannot do: read a stream.
enum LiveNodeServer {
    struct DidNotStart: Error {}
    struct TimedOut: Error, CustomStringConvertible {
        var what: String
        var description: String { "timed out: \(what)" }
    }

    /// - Parameter credentials: what the server presents; by default, as `inv serve`, the certificate `inv init`
    ///   issued, from the data directory.
    static func run(
        _ fixture: NodeFixture, credentials given: ReloadableCredentials? = nil,
        _ body: @Sendable (_ baseURL: String, _ client: HTTPClient) async throws -> Void
    ) async throws {
        let credentials = try given ?? ReloadableCredentials(PKIFiles(directory: fixture.directory.tlsDirectory).loadNodeCredentials())
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let app = try buildApplication(
            node: fixture.node, credentials: credentials, host: "127.0.0.1", port: 0,
            onServerRunning: { channel in
                portSink.yield(channel.localAddress?.port ?? -1)
                portSink.finish()
            })
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: credentials.initial.clientTLS(withClientCertificate: false),
            timeout: .init(connect: .seconds(5), read: .seconds(10)))
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        let server = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: app.logger))
        let outcome: Result<Void, any Error> = await withTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { portSink.finish() }
                try? await server.run()
            }
            let outcome: Result<Void, any Error>
            do {
                guard let port = await ports.first(where: { _ in true }), port > 0 else { throw DidNotStart() }
                try await body("https://127.0.0.1:\(port)", client)
                outcome = .success(())
            } catch {
                outcome = .failure(error)
            }
            // End open event streams and close the client's connections first, so the graceful shutdown has no
            // endless response or idle keep-alive connection to wait for.
            fixture.node.events.finishAll()
            var closed: Result<Void, any Error> = .success(())
            do { try await client.shutdown() } catch { closed = .failure(error) }
            await server.triggerGracefulShutdown()
            return outcome.flatMap { closed }
        }
        try outcome.get()
    }

    /// Runs `operation`, failing with ``TimedOut`` if it takes longer than `seconds`.
    static func within<T: Sendable>(
        _ seconds: Int, _ what: String, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                throw TimedOut(what: what)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}
