import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import SyncServer

/// A node's real peer-sync listener (`buildPeerApplication`: mutual TLS, `/v1/sync/*`) on 127.0.0.1, port 0, for
/// the length of a closure, with a client holding a real member certificate issued by the node's cluster CA for
/// `peer`: the hostile member of the peer-input tests.
enum LivePeerServer {
    struct DidNotStart: Error {}

    /// One answer: its status and body.
    struct Answer: Sendable {
        var status: Int
        var body: String
    }

    /// A client of the peer listener speaking as the certified `peer`.
    struct Client: Sendable {
        let baseURL: String
        let http: HTTPClient

        /// POSTs `body` to `path` with `headers`; the answer, whatever its status.
        func post(_ path: String, _ body: [UInt8], headers: [(String, String)] = [("Content-Type", "application/json")]) async throws -> Answer {
            var request = HTTPClientRequest(url: baseURL + path)
            request.method = .POST
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await http.execute(request, timeout: .seconds(30))
            let data = try await response.body.collect(upTo: 64 << 20)
            return Answer(status: Int(response.status.code), body: String(buffer: data))
        }

        func post(_ path: String, json: String) async throws -> Answer {
            try await post(path, Array(json.utf8))
        }
    }

    static func run(
        _ fixture: NodeFixture, peer: String = "C", _ body: @Sendable (_ client: Client) async throws -> Void
    ) async throws {
        let pki = PKIFiles(directory: fixture.directory.tlsDirectory)
        let credentials = try ReloadableCredentials(pki.loadNodeCredentials())
        let ca = try pki.loadCA()
        let member = try NodeCredentials(
            clusterCA: ca.certificate, node: try ca.issueNodeCertificate(warehouse: peer, hosts: ["127.0.0.1"], now: Date()))
        let logger = Logger(label: "test.peer")
        let syncer = PeerSyncer(node: fixture.node, credentials: credentials, logger: logger)
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let app = try buildPeerApplication(
            node: fixture.node, syncer: syncer, credentials: credentials, host: "127.0.0.1", port: 0, logger: logger,
            onServerRunning: { channel in
                portSink.yield(channel.localAddress?.port ?? -1)
                portSink.finish()
            })
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: member.clientTLS(withClientCertificate: true), timeout: .init(connect: .seconds(5), read: .seconds(30)))
        configuration.connectionPool.retryConnectionEstablishment = false
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        let server = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let outcome: Result<Void, any Error> = await withTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { portSink.finish() }
                try? await server.run()
            }
            var outcome: Result<Void, any Error>
            do {
                guard let port = await ports.first(where: { _ in true }), port > 0 else { throw DidNotStart() }
                try await body(Client(baseURL: "https://127.0.0.1:\(port)", http: http))
                outcome = .success(())
            } catch {
                outcome = .failure(error)
            }
            do { try await http.shutdown() } catch { if case .success = outcome { outcome = .failure(error) } }
            await syncer.shutdown()
            await server.triggerGracefulShutdown()
            return outcome
        }
        try outcome.get()
    }
}
