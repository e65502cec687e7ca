import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL

/// Builds the node's router: every `/v1` route behind the error and token middleware, and `GET /metrics` (also
/// behind a token). Every request's latency is recorded in the node's own metrics.
///
/// - Parameters:
///   - credentials: the TLS credentials the node serves with, for `inv status` and certificate reloads (`nil` when
///     the router is served without TLS, as in router tests).
///   - extraRoutes: lets benchmarks and tests add routes to the same router (e.g. a no-op baseline).
public func buildRouter(
    node: InvNode, syncer: PeerSyncer? = nil, credentials: ReloadableCredentials? = nil,
    extraRoutes: (RouterGroup<InvRequestContext>) -> Void = { _ in }
) -> Router<InvRequestContext> {
    let router = Router(context: InvRequestContext.self)
    router.add(middleware: RequestMetricsMiddleware(factory: node.metrics.factory))
    router.add(middleware: ErrorMiddleware())
    MetricsController(node: node, syncer: syncer).addRoutes(to: router)
    let v1 = router.group("v1").add(middleware: TokenAuthMiddleware(authority: node.tokens))
    ProductsController(node: node).addRoutes(to: v1)
    MovementsController(node: node).addRoutes(to: v1)
    DocumentsController(node: node).addRoutes(to: v1)
    ImportsController(node: node).addRoutes(to: v1)
    ReadController(node: node, syncer: syncer, credentials: credentials).addRoutes(to: v1)
    ClusterController(node: node).addRoutes(to: v1)
    TokensController(node: node).addRoutes(to: v1)
    EventsController(node: node).addRoutes(to: v1)
    ChangesController(node: node, syncer: syncer).addRoutes(to: v1)
    PeersController(node: node, syncer: syncer).addRoutes(to: v1)
    CertificateController(node: node, credentials: credentials).addRoutes(to: v1)
    BackupController(node: node).addRoutes(to: v1)
    extraRoutes(v1)
    router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes))
    return router
}

/// Builds the node's HTTPS application (TLS 1.2+, certificate from the cluster CA; no plain-HTTP listener).
///
/// - Parameters:
///   - credentials: the certificate served; a replacement (`POST /v1/certificate/reload`) applies to new
///     connections at once.
///   - host, port: where to listen (port 0 picks a free port; `onServerRunning` learns it).
public func buildApplication(
    node: InvNode, credentials: ReloadableCredentials, host: String, port: Int, syncer: PeerSyncer? = nil,
    logger: Logger = Logger(label: "inv.http"),
    extraRoutes: @escaping (RouterGroup<InvRequestContext>) -> Void = { _ in },
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let router = buildRouter(node: node, syncer: syncer, credentials: credentials, extraRoutes: extraRoutes)
    let configuration = ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil)
    return Application(
        router: router,
        server: try .tls(.http1(), tlsConfiguration: quickShutdown(credentials.serverTLS(requireClientCertificate: false))),
        configuration: configuration,
        onServerRunning: onServerRunning,
        logger: logger)
}

/// Builds the peer-sync listener: mutual TLS required at the handshake (a client without a certificate from the
/// cluster CA never reaches a route), serving only `/v1/sync/*`. A replaced certificate applies to new connections.
public func buildPeerApplication(
    node: InvNode, syncer: PeerSyncer, credentials: ReloadableCredentials, host: String, port: Int,
    logger: Logger = Logger(label: "inv.peer"),
    onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let router = Router(context: InvRequestContext.self)
    SyncRoutes(node: node, syncer: syncer).addRoutes(to: router)
    router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes))
    return Application(
        router: router,
        server: try .tls(.http1(), tlsConfiguration: quickShutdown(credentials.serverTLS(requireClientCertificate: true))),
        configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil),
        onServerRunning: onServerRunning,
        logger: logger)
}

/// Waits at most a second for a client's TLS close at shutdown (NIOSSL's default is 5 s per connection), so a stop
/// is not held up by idle keep-alive clients.
func quickShutdown(_ configuration: TLSConfiguration) -> TLSConfiguration {
    var configuration = configuration
    configuration.shutdownTimeout = .seconds(1)
    return configuration
}
