import CoreMetrics
import Synchronization

/// How far this node and one peer are apart, for the lag gauges.
struct PeerLag: Sendable, Equatable {
    var peer: String
    /// Operations this node holds that the peer lacked when last heard from (`nil`: never heard from).
    var behind: UInt64?
    /// Operations the peer holds that this node lacks (`nil`: never heard from).
    var ahead: UInt64?
    /// Seconds since the last successful round with the peer (`nil`: none since this process started).
    var secondsSinceSync: Double?
    /// The live stream from the peer: open or not, and frames and bytes received on it since start (`nil`: unknown).
    var streamConnected: Bool? = nil
    var streamFrames: Int? = nil
    var streamBytes: Int? = nil
    /// From the commit at its origin to its merge here, of the newest operation merged from the peer (`nil`: none
    /// merged since start).
    var lagSeconds: Double? = nil
}

/// The per-peer lag gauges, labelled `peer="<warehouse>"`: `inv_peer_operations_behind`,
/// `inv_peer_operations_ahead` and `inv_peer_last_sync_age_seconds`, and those of the live stream from the peer:
/// `inv_peer_stream_connected` (1 or 0), `inv_peer_stream_frames_received` and `inv_peer_stream_bytes_received`,
/// and `inv_peer_lag_seconds`.
///
/// Invariant: after ``record(_:)`` there is a series exactly for each peer and value the lags know; the series
/// of a peer that left the list (retired) are removed from the registry.
final class PeerLagMetrics: Sendable {
    private struct Gauges {
        var behind: Gauge?
        var ahead: Gauge?
        var age: Gauge?
        var streamConnected: Gauge?
        var streamFrames: Gauge?
        var streamBytes: Gauge?
        var lag: Gauge?

        var all: [Gauge] { [behind, ahead, age, streamConnected, streamFrames, streamBytes, lag].compactMap { $0 } }
    }

    private let factory: any MetricsFactory
    private let gauges = Mutex<[String: Gauges]>([:])

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// Sets every peer's gauges to `lags`.
    func record(_ lags: [PeerLag]) {
        gauges.withLock { gauges in
            let current = Set(lags.map(\.peer))
            for (peer, old) in gauges where !current.contains(peer) {
                for gauge in old.all { gauge.destroy() }
                gauges[peer] = nil
            }
            for lag in lags {
                var entry = gauges[lag.peer] ?? Gauges()
                set(&entry.behind, NodeMetrics.Name.peerOperationsBehind, lag.peer, lag.behind.map { Double($0) })
                set(&entry.ahead, NodeMetrics.Name.peerOperationsAhead, lag.peer, lag.ahead.map { Double($0) })
                set(&entry.age, NodeMetrics.Name.peerLastSyncAge, lag.peer, lag.secondsSinceSync)
                set(&entry.streamConnected, NodeMetrics.Name.peerStreamConnected, lag.peer, lag.streamConnected.map { $0 ? 1 : 0 })
                set(&entry.streamFrames, NodeMetrics.Name.peerStreamFramesReceived, lag.peer, lag.streamFrames.map { Double($0) })
                set(&entry.streamBytes, NodeMetrics.Name.peerStreamBytesReceived, lag.peer, lag.streamBytes.map { Double($0) })
                set(&entry.lag, NodeMetrics.Name.peerLag, lag.peer, lag.lagSeconds)
                gauges[lag.peer] = entry
            }
        }
    }

    /// Records `value` in `gauge`, making it on first use; an unknown value leaves the gauge as it was.
    private func set(_ gauge: inout Gauge?, _ label: String, _ peer: String, _ value: Double?) {
        guard let value else { return }
        let existing = gauge ?? Gauge(label: label, dimensions: [("peer", peer)], factory: factory)
        existing.record(value)
        gauge = existing
    }
}
