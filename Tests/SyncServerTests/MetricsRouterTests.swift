import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Store
@testable import SyncServer
import Testing

/// `GET /metrics` through `buildRouter(node:)`: real nodes, real writes and merges, each node its own registry.
@Suite("API: GET /metrics", .timeLimit(.minutes(3)))
struct MetricsRouterTests {
    /// The samples of a Prometheus text body, by series (`name` or `name{labels}`).
    static func samples(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    /// Scrapes `/metrics` with a reporter token and checks the answer's shape.
    static func scrape(_ api: APISession, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Double] {
        let response = try await api.expectStatus(.ok, .get, "/metrics", token: api.reporter, sourceLocation: sourceLocation)
        #expect(response.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8", sourceLocation: sourceLocation)
        return samples(response.text)
    }

    @Test func aMovementAndAMergeMoveTheCounters() async throws {
        try await APISession.with(warehouse: "MAD") { mad in
            try await mad.createProduct("A")
            let before = try await Self.scrape(mad)
            try await mad.move("receive", "A", 10)
            try await mad.move("sell", "A", 3)
            let after = try await Self.scrape(mad)

            // Two movements: two local operations, nothing merged, at least one more group commit.
            #expect(after["inv_operations_written_total"] == (before["inv_operations_written_total"] ?? 0) + 2)
            #expect(after["inv_operations_merged_total"] == 0)
            let batches = (after["inv_write_batch_size_count"] ?? 0) - (before["inv_write_batch_size_count"] ?? 0)
            #expect(batches >= 1 && batches <= 2)
            #expect((after["inv_write_batch_size_sum"] ?? 0) - (before["inv_write_batch_size_sum"] ?? 0) >= 2)
            #expect(after["inv_write_batch_size_bucket{le=\"4096.0\"}"] == after["inv_write_batch_size_count"])
            // Every submitted command was acknowledged.
            #expect(after["inv_write_queue_depth"] == 0)
            // Request latency by method, matched route and status.
            #expect((after["inv_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/movements\",status=\"201\"}"] ?? 0) >= 1)
            #expect((after["inv_http_request_duration_seconds_count{method=\"POST\",route=\"/v1/products\",status=\"201\"}"] ?? 0) == 1)

            let operations = try mad.fixture.ownOperations()
            try await APISession.with(warehouse: "SEV") { sev in
                let quiet = try await Self.scrape(sev)
                guard case .merged(let report) = try await sev.fixture.node.store.submit(.merge(operations)) else {
                    Issue.record("merge did not report")
                    return
                }
                #expect(report.applied == operations.count)
                let merged = try await Self.scrape(sev)
                #expect(merged["inv_operations_merged_total"] == (quiet["inv_operations_merged_total"] ?? 0) + Double(operations.count))
                #expect(merged["inv_operations_written_total"] == quiet["inv_operations_written_total"] ?? 0)
                #expect((merged["inv_write_batch_size_count"] ?? 0) > (quiet["inv_write_batch_size_count"] ?? 0))
                // The same operations again are duplicates: nothing more is merged.
                _ = try await sev.fixture.node.store.submit(.merge(operations))
                let again = try await Self.scrape(sev)
                #expect(again["inv_operations_merged_total"] == merged["inv_operations_merged_total"])

                // Each node its own registry: SEV's merge did not touch MAD's counters.
                let mine = try await Self.scrape(mad)
                #expect(mine["inv_operations_merged_total"] == 0)
                #expect(mine["inv_operations_written_total"] == after["inv_operations_written_total"])
            }
        }
    }

    @Test("requests that match no route are labelled route=\"unmatched\", never Hummingbird's NotFound")
    func unmatchedRequestsShareOneRoute() async throws {
        try await APISession.with { api in
            try await api.expectStatus(.notFound, .get, "/v1/nope", token: api.reporter)
            try await api.expectStatus(.notFound, .get, "/no/such/path/either", token: api.reporter)
            let samples = try await Self.scrape(api)
            let unmatched = samples["inv_http_request_duration_seconds_count{method=\"GET\",route=\"unmatched\",status=\"404\"}"]
            #expect(unmatched == 2, "\(samples.keys.filter { $0.contains("http_request") }.sorted())")
            #expect(!samples.keys.contains { $0.contains("NotFound") }, "\(samples.keys.sorted())")
            // Matched routes keep their pattern.
            let again = try await Self.scrape(api)
            #expect((again["inv_http_request_duration_seconds_count{method=\"GET\",route=\"/metrics\",status=\"200\"}"] ?? 0) >= 1)
        }
        #expect(RequestMetricsMiddleware.route(nil) == "unmatched")
        #expect(RequestMetricsMiddleware.route("NotFound") == "unmatched")
        #expect(RequestMetricsMiddleware.route("/v1/products/{sku}") == "/v1/products/{sku}")
    }

    @Test func aTokenIsRequired() async throws {
        try await APISession.with { api in
            try await api.expectRefused(.get, "/metrics", token: nil, status: .unauthorized, code: "unauthorized")
            try await api.expectRefused(.get, "/metrics", token: "inv_nope_nope", status: .unauthorized, code: "unauthorized")
            for token in [api.reporter, api.staff, api.admin] {
                try await api.expectStatus(.ok, .get, "/metrics", token: token)
            }
        }
    }
}

/// The per-peer lag gauges in a real registry.
@Suite("Metrics: per-peer lag gauges")
struct PeerLagMetricsTests {
    @Test func gaugesFollowTheLagsAndLeaveWithThePeer() {
        let metrics = NodeMetrics()
        let lags = PeerLagMetrics(factory: metrics.factory)
        lags.record([
            PeerLag(peer: "BIO", behind: nil, ahead: nil, secondsSinceSync: nil),
            PeerLag(peer: "SEV", behind: 5, ahead: 880_000, secondsSinceSync: 2.5),
        ])
        var samples = MetricsRouterTests.samples(metrics.render())
        #expect(samples["inv_peer_operations_behind{peer=\"SEV\"}"] == 5)
        #expect(samples["inv_peer_operations_ahead{peer=\"SEV\"}"] == 880_000)
        #expect(samples["inv_peer_last_sync_age_seconds{peer=\"SEV\"}"] == 2.5)
        // Never heard from: no made-up zero.
        #expect(!samples.keys.contains { $0.contains("BIO") })

        lags.record([PeerLag(peer: "SEV", behind: 0, ahead: 0, secondsSinceSync: 0.5)])
        samples = MetricsRouterTests.samples(metrics.render())
        #expect(samples["inv_peer_operations_ahead{peer=\"SEV\"}"] == 0)
        #expect(samples["inv_peer_last_sync_age_seconds{peer=\"SEV\"}"] == 0.5)

        // Retired: its series go.
        lags.record([])
        #expect(!MetricsRouterTests.samples(metrics.render()).keys.contains { $0.contains("SEV") })
    }
}
