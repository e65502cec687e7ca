import AsyncHTTPClient
import CRDT
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Store
import Synchronization
import X509

/// What a round reports, and what `inv status` and the metrics show of each peer.
extension PeerSyncer {
    /// The outcome of one round with one peer.
    public struct RoundReport: Codable, Sendable {
        public var peer: String
        public var ok: Bool
        public var pulled: Int
        public var pushed: Int
        public var error: String?
        /// The kind of failure, for people's messages; `nil` when the round succeeded.
        public var failure: PeerFailure? = nil
    }

    /// What `inv status` shows of a peer.
    public struct PeerStatus: Codable, Sendable {
        public var warehouse: String
        public var peerURL: String
        public var reachable: Bool
        public var lastSync: String?
        /// Operations this node holds that the peer lacked when last heard from.
        public var operationsBehind: UInt64?
        /// Operations the peer holds that this node lacks.
        public var operationsAhead: UInt64?
        public var lastError: String?
        /// The kind of the last round's failure (see ``PeerFailure``); `nil` after a success.
        public var lastFailure: PeerFailure?
        /// Operation-page bytes received from and sent to this peer since start (compressed, as on the wire).
        public var bytesReceived: Int?
        public var bytesSent: Int?
        /// Operations merged from this peer so far in the round in progress; absent when no round is running.
        public var roundMerged: Int?
        /// Whether the live stream from this peer is open, and since when.
        public var streamConnected: Bool?
        public var streamConnectedSince: String?
        /// Frames (heartbeats included), their bytes on the wire and the operations their pages carried, received
        /// on the streams from this peer since start.
        public var streamFramesReceived: Int?
        public var streamBytesReceived: Int?
        public var streamOperationsReceived: Int?
        /// From its commit at its origin to its merge here, of the newest operation merged from this peer since
        /// start (milliseconds): the replication lag as of the last merge.
        public var lagMilliseconds: UInt64?

        enum CodingKeys: String, CodingKey {
            case warehouse, reachable
            case bytesReceived = "bytes_received"
            case bytesSent = "bytes_sent"
            case peerURL = "peer_url"
            case lastSync = "last_sync"
            case operationsBehind = "operations_behind"
            case operationsAhead = "operations_ahead"
            case lastError = "last_error"
            case lastFailure = "last_failure"
            case roundMerged = "round_merged"
            case streamConnected = "stream_connected"
            case streamConnectedSince = "stream_connected_since"
            case streamFramesReceived = "stream_frames_received"
            case streamBytesReceived = "stream_bytes_received"
            case streamOperationsReceived = "stream_operations_received"
            case lagMilliseconds = "lag_ms"
        }
    }

    /// Records the lag of what a merge of `peer`'s page applied (see ``PeerStatus/lagMilliseconds``).
    func recordLag(of report: MergeReport, from peer: String) {
        guard let made = report.newestAppliedMilliseconds else { return }
        let now = SystemClock().nowMilliseconds()
        peers.withLock { $0[peer]?.lagMilliseconds = now > made ? now - made : 0 }
    }

    /// Records the vector a peer announced (hello or pull), for status.
    func heard(from warehouse: String, vector: VersionVector) {
        heardVectors.withLock { $0[warehouse] = vector }
    }

    /// A peer pulled a page from this node (see ``PushPolicy``).
    func servedPull(to warehouse: String) {
        let now = clock()
        pullsServed.withLock { $0[warehouse] = now }
    }

    public func status() -> [PeerStatus] {
        let lags = Dictionary(lags().map { ($0.peer, $0) }) { a, _ in a }
        return peers.withLock { peers in
            peers.map { name, peer in
                PeerStatus(
                    warehouse: name, peerURL: peer.url, reachable: peer.isReachable,
                    lastSync: peer.lastSuccessMilliseconds.map { API.timestamp(milliseconds: $0) },
                    operationsBehind: lags[name]?.behind, operationsAhead: lags[name]?.ahead, lastError: peer.lastError,
                    lastFailure: peer.lastFailure,
                    bytesReceived: peer.bytesReceived, bytesSent: peer.bytesSent, roundMerged: peer.roundMerged,
                    streamConnected: peer.stream.connected,
                    streamConnectedSince: peer.stream.connectedSinceMilliseconds.map { API.timestamp(milliseconds: $0) },
                    streamFramesReceived: peer.stream.framesReceived, streamBytesReceived: peer.stream.bytesReceived,
                    streamOperationsReceived: peer.stream.operationsReceived, lagMilliseconds: peer.lagMilliseconds)
            }.sorted { $0.warehouse < $1.warehouse }
        }
    }

    /// The version vector each peer last announced (or was last known to hold): what the cluster holds that this
    /// node may not have merged yet, for the change feed's `waiting_for`.
    func announcedVectors() -> [VersionVector] {
        let heard = heardVectors.withLock { $0 }
        return peers.withLock { peers in peers.compactMap { name, peer in peer.vector ?? heard[name] } }
    }

    /// How far apart this node and each peer are, by the vector each peer last announced.
    func lags() -> [PeerLag] {
        let mine: VersionVector
        do { mine = try node.store.reader.versionVector() } catch { mine = VersionVector() }
        let heard = heardVectors.withLock { $0 }
        let now = clock()
        return peers.withLock { peers in
            peers.map { name, peer in
                let vector = peer.vector ?? heard[name]
                return PeerLag(
                    peer: name, behind: vector.map { Self.count(mine, beyond: $0) }, ahead: vector.map { Self.count($0, beyond: mine) },
                    secondsSinceSync: peer.lastSuccessAt.map { max(now - $0, 0) }, streamConnected: peer.stream.connected,
                    streamFrames: peer.stream.framesReceived, streamBytes: peer.stream.bytesReceived,
                    lagSeconds: peer.lagMilliseconds.map { Double($0) / 1_000 })
            }.sorted { $0.peer < $1.peer }
        }
    }

    /// Brings the per-peer lag gauges (`inv_peer_*`) up to date; `GET /metrics` calls it before rendering.
    public func recordLagMetrics() {
        lagMetrics.record(lags())
    }

    /// The operations `vector` holds beyond `other`, saturating at `UInt64.max`.
    ///
    /// One of the vectors is a peer's: its entries, each checked (see ``SyncProtocol/versionVector(_:)``), may still
    /// add up past 2^64, and this number is only displayed, so it saturates instead of trapping.
    static func count(_ vector: VersionVector, beyond other: VersionVector) -> UInt64 {
        vector.entries.reduce(0) { total, entry in
            let gap = entry.value > other[entry.key] ? entry.value - other[entry.key] : 0
            let (sum, overflow) = total.addingReportingOverflow(gap)
            return overflow ? .max : sum
        }
    }
}
