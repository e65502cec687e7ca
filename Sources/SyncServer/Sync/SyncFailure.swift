import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// A failed sync round, as one line.
struct SyncFailure: Error, CustomStringConvertible {
    var description: String
    /// The API error code of a peer's refusal (`retired`, `sync_paused`...), when it sent one.
    var code: String?
    /// The kind of failure, when the code that throws it knows (see ``PeerFailure/of(_:)`` for the others).
    var kind: PeerFailure?
    init(_ description: String, code: String? = nil, kind: PeerFailure? = nil) {
        self.description = description
        self.code = code
        self.kind = kind
    }

    /// A peer's answer other than 200: a 5xx is the peer's failure; the others are told by their code.
    init(_ url: String, answered status: UInt, body: String, code: String? = nil) {
        self.init("\(url) answered \(status): \(body)", code: code, kind: status >= 500 ? .peerError : nil)
    }

    /// How long a connection to a peer may take to open.
    static let connectTimeoutSeconds: Int64 = 2

    /// One line for people: a transport failure by its kind, anything else as it describes itself.
    static func describe(_ error: any Error) -> String {
        switch TransportFailure(error) {
        case .refused: "unreachable (connection refused)"
        case .timedOut: "unreachable (timed out after \(connectTimeoutSeconds) s)"
        case .peerCertificateUntrusted: "the peer's certificate is not from this cluster's CA (TLS verification failed)"
        case .ourCertificateRefused: "the peer refused our certificate at the TLS handshake (is it from another cluster?)"
        case nil: String(describing: error)
        }
    }
}

/// Why a connection to a peer failed, told by the error's type (AsyncHTTPClient, NIO, NIOSSL), not its text.
enum TransportFailure: Equatable {
    /// Nothing listens at the peer's address.
    case refused
    /// The connection did not open within ``SyncFailure/connectTimeoutSeconds``.
    case timedOut
    /// This node's verification of the peer's certificate failed: it does not chain to the cluster CA.
    case peerCertificateUntrusted
    /// The TLS handshake failed on the peer's side: it refused this node's certificate (or sent an alert).
    case ourCertificateRefused

    /// The kind of `error`, or `nil` when it is not a transport failure this type knows.
    init?(_ error: any Error) {
        switch error {
        case let error as HTTPClientError where error == .connectTimeout:
            self = .timedOut
        case let error as ChannelError:
            guard case .connectTimeout = error else { return nil }
            self = .timedOut
        case let error as IOError where error.errnoCode == ECONNREFUSED:
            self = .refused
        case let error as NIOConnectionError:
            // Every address tried failed: refused if any was refused (the others, such as an IPv6 address a
            // peer does not listen on, fail the same way or not at all).
            guard let kind = error.connectionErrors.lazy.compactMap({ TransportFailure($0.error) }).first else { return nil }
            self = kind
        case let error as NIOSSLError:
            guard case .handshakeFailed(let failure) = error else { return nil }
            self = Self.handshake(failure)
        case let error as BoringSSLError:
            self = Self.handshake(error)
        default:
            return nil
        }
    }

    /// A failed handshake: ours to refuse (the peer's certificate failed verification here) or the peer's.
    private static func handshake(_ failure: BoringSSLError) -> TransportFailure {
        guard case .sslError(let stack) = failure else { return .ourCertificateRefused }
        // NIOSSL keeps BoringSSL's reason codes private: its error stack exposes only their text, whose reason
        // names are BoringSSL's stable identifiers.
        return stack.contains { $0.description.contains("CERTIFICATE_VERIFY_FAILED") }
            ? .peerCertificateUntrusted : .ourCertificateRefused
    }
}
