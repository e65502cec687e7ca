import CoreMetrics
import Prometheus
import Store

/// One node's metrics registry, and the factory every part of the node records through.
///
/// Each node makes its own: `MetricsSystem.bootstrap` is never called, because tests (and benchmarks) run several
/// nodes in one process and a global registry would mix their series. The store's writer, the merge path, peer
/// sync and the HTTP middleware all receive ``factory``; `GET /metrics` renders ``registry``.
///
/// Invariant: every series is named `inv_…`, counters end in `_total` and durations in `_seconds`.
public final class NodeMetrics: Sendable {
    /// The names of the metrics defined in this target (the store's are in `WriterMetrics.Name`).
    public enum Name {
        public static let peerOperationsBehind = "inv_peer_operations_behind"
        public static let peerOperationsAhead = "inv_peer_operations_ahead"
        public static let peerLastSyncAge = "inv_peer_last_sync_age_seconds"
        public static let peerStreamConnected = "inv_peer_stream_connected"
        public static let peerStreamFramesReceived = "inv_peer_stream_frames_received"
        public static let peerStreamBytesReceived = "inv_peer_stream_bytes_received"
        public static let peerLag = "inv_peer_lag_seconds"
        /// Hellos sent, labelled `membership="whole"` or `"digest"`: a quiet gossip round sends a digest.
        public static let hellosSent = "inv_sync_hellos_sent_total"
        public static let httpRequestDuration = "inv_http_request_duration_seconds"
    }

    /// The Prometheus exposition content type (text format 0.0.4).
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Commands per group commit: powers of two up to the writer's largest batch (4,096).
    public static let batchSizeBuckets: [Double] = (0...12).map { Double(1 << $0) }

    public let registry: PrometheusCollectorRegistry
    public let factory: any MetricsFactory

    /// Creates an empty registry with its factory.
    public init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.valueHistogramBuckets[WriterMetrics.Name.batchSize] = Self.batchSizeBuckets
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        self.registry = registry
        self.factory = factory
    }

    /// The registry in the Prometheus text format.
    public func render() -> String {
        registry.emitToString()
    }
}
