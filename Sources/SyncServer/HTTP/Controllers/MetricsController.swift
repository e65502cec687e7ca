import Hummingbird
import NIOCore
import Store

/// `GET /metrics` on the API listener: the node's metrics in the Prometheus text format.
///
/// Needs a bearer token of any role (a `reporter` token is enough): the figures reveal activity and peer names.
/// Prometheus sends it with `authorization: {credentials: …}` in its scrape config (docs/operations.md). The
/// per-peer lag gauges are brought up to date just before rendering, so "seconds since last sync" is exact at the
/// scrape.
struct MetricsController {
    let node: InvNode
    let syncer: PeerSyncer?

    func addRoutes(to router: Router<InvRequestContext>) {
        router.group("metrics").add(middleware: TokenAuthMiddleware(authority: node.tokens)).get(use: scrape)
    }

    @Sendable func scrape(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.reporter)
        syncer?.recordLagMetrics()
        return Response(
            status: .ok, headers: [.contentType: NodeMetrics.contentType],
            body: .init(byteBuffer: ByteBuffer(string: node.metrics.render())))
    }
}
