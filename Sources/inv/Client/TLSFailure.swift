import Foundation
import NIOSSL

/// Why a TLS handshake with a node failed, read from NIOSSL's errors so that the CLI can say it in one line.
///
/// NIOSSL describes a failure with BoringSSL's whole error stack (`handshakeFailed(NIOSSL.BoringSSLError.sslError(
/// [Error: 268435581 error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at …/handshake.cc:320]))`),
/// which tells the person at the terminal nothing they can act on. Only the reason name at the end of each entry
/// (`CERTIFICATE_VERIFY_FAILED`) matters; BoringSSL reports no finer cause (an expired certificate fails with the
/// same reason as one signed by another CA).
enum TLSFailure: Equatable {
    /// The node's certificate does not verify against the trusted CA: signed by another CA, or expired.
    case untrusted
    /// The node's certificate names neither the host of the URL nor the address connected to.
    case wrongHost
    /// The server wants a client certificate: a peer-sync (mutual TLS) listener, not the API.
    case clientCertificateRequired
    /// The server does not speak TLS.
    case notTLS
    /// The server closed the connection during the handshake.
    case closed
    /// Another BoringSSL reason, by its name (e.g. `NO_SHARED_CIPHER`).
    case other(String)

    /// The failure `error` stands for, or nil if it is not a TLS failure.
    init?(_ error: any Error) {
        switch error {
        case NIOSSLError.handshakeFailed(let boringSSL): self.init(boringSSL)
        case let boringSSL as BoringSSLError: self.init(boringSSL)
        case let extra as NIOSSLExtraError where extra == .failedToValidateHostname: self = .wrongHost
        default: return nil
        }
    }

    private init(_ error: BoringSSLError) {
        let stack: NIOBoringSSLErrorStack
        switch error {
        case .sslError(let errors), .unknownError(let errors), .invalidSNIName(let errors), .failedToSetALPN(let errors):
            stack = errors
        default:
            self = .other(String(describing: error))
            return
        }
        if stack.contains(.eofDuringHandshake) {
            self = .closed
            return
        }
        // Each entry reads "Error: CODE error:HEX:LIBRARY:FUNCTION:REASON at FILE:LINE".
        let reasons = stack.compactMap { $0.description.firstMatch(of: #/:([A-Z][A-Z0-9_]*) at /#).map { String($0.1) } }
        switch reasons.first {
        case "CERTIFICATE_VERIFY_FAILED": self = .untrusted
        case "TLSV1_ALERT_CERTIFICATE_REQUIRED": self = .clientCertificateRequired
        case "WRONG_VERSION_NUMBER": self = .notTLS
        case let reason?: self = .other(reason)
        case nil: self = .other(String(describing: error))
        }
    }

    /// One line for a person: what failed, and what to check.
    func message(url: String, caFile: String) -> String {
        let prefix = "TLS handshake with \(url) failed: "
        switch self {
        case .untrusted:
            return prefix + "the node's certificate is not signed by the cluster CA in \(caFile), or has expired"
        case .wrongHost:
            let host = URLComponents(string: url)?.host ?? url
            return prefix + "the node's certificate does not name \(host); use a host it names (inv cert show), "
                + "or renew it with --host \(host)"
        case .clientCertificateRequired:
            return prefix + "it asks for a client certificate, as a peer-sync port does: use the node's API URL"
        case .notTLS:
            return prefix + "the server there does not speak TLS: is this the node's API address?"
        case .closed:
            return prefix + "the server closed the connection"
        case .other(let reason):
            return prefix + reason
        }
    }
}
