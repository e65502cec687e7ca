import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Store

/// POSTs restock alerts to a webhook URL, retrying with exponential backoff and jitter.
///
/// Runs beside the writer, fed by the event hub: a slow or failing webhook never blocks or loses a write. An
/// alert whose delivery still fails after `retries.maxAttempts` attempts is logged and dropped (it stays visible in
/// `GET /v1/alerts`). At shutdown (the task is cancelled) the alert being delivered and those still queued are
/// dropped the same way, without another attempt.
public struct AlertWebhook: Sendable {
    public var url: String
    /// 8 attempts, waiting 0.5 s doubling up to 30 s between them.
    public var retries = Self.defaultRetries

    public static let defaultRetries = BackoffSchedule(first: .milliseconds(500), cap: .seconds(30), maxAttempts: 8)

    public init(url: String) { self.url = url }

    /// Delivers alerts from `events` until the stream ends or the task is cancelled.
    public func run(events: AsyncStream<EventHub.Delivery>, client: HTTPClient, warehouse: String, logger: Logger) async {
        for await delivery in events {
            // A cancelled task still drains the stream's buffer; a request started now would fail at once, yet it
            // may open a connection, and `HTTPClient.shutdown()` waits for a connection being established (up to
            // its connect timeout).
            if Task.isCancelled { return }
            guard case .event(let event, _) = delivery else { continue }
            let body: String
            switch event {
            case .alertRaised, .alertCleared:
                body = EventsController.encode(event).1
            case .operation:
                continue
            }
            await deliver(body, client: client, warehouse: warehouse, logger: logger)
        }
    }

    func deliver(_ body: String, client: HTTPClient, warehouse: String, logger: Logger) async {
        let of = retries.maxAttempts.map { " of \($0)" } ?? ""
        var random = SystemRandomNumberGenerator()
        var attempt = 1
        while true {
            do {
                var request = HTTPClientRequest(url: url)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.headers.add(name: "X-Inv-Warehouse", value: warehouse)
                request.body = .bytes(ByteBuffer(string: body))
                let response = try await client.execute(request, timeout: .seconds(10))
                if (200..<300).contains(response.status.code) { return }
                logger.warning("alert webhook answered \(response.status.code) (attempt \(attempt)\(of))")
            } catch {
                // Shutting down: not a failure of the webhook, and no time for another attempt.
                if Task.isCancelled { return }
                logger.warning("alert webhook failed: \(error) (attempt \(attempt)\(of))")
            }
            guard let delay = retries.delay(afterFailures: attempt, using: &random) else { break }
            do { try await Task.sleep(for: delay) } catch { return }
            attempt += 1
        }
        logger.error("alert webhook gave up after \(attempt) attempts; the alert stays in GET /v1/alerts")
    }
}
