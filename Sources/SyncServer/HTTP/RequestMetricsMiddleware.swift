import CoreMetrics
import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// Records each API request's latency in a histogram labelled by method, route and status, through the node's own
/// metrics factory (Hummingbird's `MetricsMiddleware` records through the global `MetricsSystem` instead).
///
/// The route is the matched route's pattern (`/v1/products/{sku}`), never the raw path, so the number of series
/// stays bounded; requests that match no route share the route `unmatched`. The latency is measured until the
/// response head is ready: for a streamed body (`/v1/events`, `/v1/snapshot`) it does not include the stream.
/// Put this middleware outside ``ErrorMiddleware`` so that it sees the status clients see.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = InvRequestContext

    private struct Series: Hashable {
        var method: String
        var route: String
        var status: Int
    }

    /// One timer per series, so a request costs a dictionary lookup rather than a registry registration.
    private final class Timers: Sendable {
        let factory: any MetricsFactory
        let bySeries = Mutex<[Series: CoreMetrics.Timer]>([:])
        init(factory: any MetricsFactory) { self.factory = factory }

        func timer(_ series: Series) -> CoreMetrics.Timer {
            bySeries.withLock { timers in
                if let timer = timers[series] { return timer }
                let timer = CoreMetrics.Timer(
                    label: NodeMetrics.Name.httpRequestDuration,
                    dimensions: [("method", series.method), ("route", series.route), ("status", String(series.status))],
                    factory: factory)
                timers[series] = timer
                return timer
            }
        }
    }

    private let timers: Timers

    init(factory: any MetricsFactory) {
        timers = Timers(factory: factory)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            record(request, context, status: response.status, since: start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            record(request, context, status: status, since: start)
            throw error
        }
    }

    /// The `route` label for a request's endpoint path: a matched route's pattern, or `unmatched`.
    ///
    /// Hummingbird leaves the endpoint path nil before routing, and sets it to the placeholder `NotFound` when no
    /// route matches (an unknown path, or a known path with a method it does not serve). A route pattern always
    /// starts with `/`, so anything else is an unmatched request: labelled `unmatched`, as documented, whatever
    /// placeholder Hummingbird uses.
    static func route(_ endpointPath: String?) -> String {
        guard let endpointPath, endpointPath.hasPrefix("/") else { return "unmatched" }
        return endpointPath
    }

    private func record(_ request: Request, _ context: Context, status: HTTPResponse.Status, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let series = Series(method: request.method.rawValue, route: Self.route(context.endpointPath), status: status.code)
        let timer = timers.timer(series)
        let (seconds, attoseconds) = elapsed.components
        timer.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
