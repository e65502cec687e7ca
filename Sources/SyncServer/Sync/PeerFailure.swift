import AsyncHTTPClient

/// What kind of failure ended the last round with a peer: what `inv sync`, `inv status` and `inv peer list` tell
/// people, chosen by the kind rather than read out of an error's text (`error` keeps the detail).
///
/// Its raw values travel in `GET /v1/status`, `GET /v1/peers` (`last_failure`) and `POST /v1/sync` (`failure`).
public enum PeerFailure: String, Codable, Sendable, Equatable, CaseIterable {
    /// Nothing listens at the peer's address.
    case connectionRefused = "connection_refused"
    /// The peer did not answer in time (connecting, or a request).
    case timedOut = "timed_out"
    /// `inv sync` stopped waiting for the round; the round goes on in the background.
    case stillSyncing = "still_syncing"
    /// Sync is paused on this node.
    case pausedHere = "paused_here"
    /// The peer paused its sync.
    case pausedThere = "paused_there"
    /// This warehouse, or the peer's, is retired from the cluster.
    case retired
    /// TLS verification failed either way, or the peer's certificate names another warehouse.
    case certificate
    /// The peer failed to answer (a 5xx).
    case peerError = "peer_error"
    /// Anything else: a refusal, a malformed answer; `error` says what.
    case other

    /// The kind of `error`, a round's failure.
    static func of(_ error: any Error) -> PeerFailure {
        if let failure = error as? SyncFailure {
            // A refusal's code is the most specific: a paused peer answers 503 `sync_paused`, not a failure of its own.
            switch failure.code {
            case "sync_paused": return .pausedThere
            case "retired": return .retired
            case "no_peer_certificate", "peer_mismatch": return .certificate
            default: return failure.kind ?? .other
            }
        }
        switch TransportFailure(error) {
        case .refused: return .connectionRefused
        case .timedOut: return .timedOut
        case .peerCertificateUntrusted, .ourCertificateRefused: return .certificate
        case nil: break
        }
        if let error = error as? HTTPClientError, error == .readTimeout || error == .deadlineExceeded || error == .connectTimeout {
            return .timedOut
        }
        return .other
    }
}
