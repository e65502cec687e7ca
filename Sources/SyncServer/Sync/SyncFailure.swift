import Foundation

/// A failed sync round, as one line.
struct SyncFailure: Error, CustomStringConvertible {
    var description: String
    /// The API error code of a peer's refusal (`retired`, `sync_paused`...), when it sent one.
    var code: String?
    init(_ description: String, code: String? = nil) {
        self.description = description
        self.code = code
    }

    /// How long a connection to a peer may take to open.
    static let connectTimeoutSeconds: Int64 = 2

    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "unreachable (connection refused)" }
        if text.contains("connectTimeout") { return "unreachable (timed out after \(connectTimeoutSeconds) s)" }
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("UNKNOWN_CA") {
            return "the peer's certificate is not from this cluster's CA (TLS verification failed)"
        }
        if text.contains("CERTIFICATE_REQUIRED") || text.contains("handshake") {
            return "the peer refused our certificate at the TLS handshake (is it from another cluster?)"
        }
        return text
    }
}
