import NIOCore
import NIOSSL
import Synchronization
import X509

/// This node's TLS credentials while it runs, replaceable without a restart: after ``replace(with:)`` every new
/// handshake (on the API listener, the peer listener and the peer client) presents the new certificate and key;
/// connections already open keep the certificate they were made with until they close.
///
/// The TLS configurations from ``serverTLS(requireClientCertificate:)`` and ``clientTLS()`` are built once, from the
/// credentials the node started with, and carry NIOSSL's `sslContextCallback`. BoringSSL calls it at each handshake
/// when this side's certificate is chosen (`SSL_CTX_set_cert_cb`: on a server after the ClientHello, on a client
/// when the server asks for a certificate), and it answers with the current certificate and key (swift-nio-ssl
/// `NIOSSLContextConfigurationOverride`). Until the first replacement it answers "no changes".
///
/// Invariants: every credential ever held has the same cluster CA certificate (the trust root the TLS contexts
/// were built with, which cannot change here) and names the same warehouse; ``generation`` counts replacements.
public final class ReloadableCredentials: Sendable {
    private struct State {
        var current: NodeCredentials
        var generation: Int
    }

    /// The credentials the TLS configurations were built with.
    public let initial: NodeCredentials
    private let state: Mutex<State>

    public init(_ credentials: NodeCredentials) {
        initial = credentials
        state = Mutex(State(current: credentials, generation: 0))
    }

    /// The credentials new handshakes use.
    public var current: NodeCredentials { state.withLock { $0.current } }

    /// How many times the credentials were replaced since start.
    public var generation: Int { state.withLock { $0.generation } }

    /// Makes every new handshake use `credentials`.
    ///
    /// - Throws: ``PKIError/notIssuedByClusterCA(subject:clusterCA:)`` if `credentials` trust another cluster CA
    ///   (a new CA needs a restart, and every peer must trust it first); ``PKIError/invalidWarehouse(_:)`` if they
    ///   name another warehouse. Nothing changes then.
    public func replace(with credentials: NodeCredentials) throws(PKIError) {
        guard credentials.clusterCA == initial.clusterCA else {
            throw .notIssuedByClusterCA(
                subject: credentials.node.certificate.subject.description, clusterCA: initial.clusterCA.subject.description)
        }
        guard credentials.warehouse == initial.warehouse else { throw .invalidWarehouse(credentials.warehouse) }
        state.withLock { state in
            state.current = credentials
            state.generation += 1
        }
    }

    /// Loads the node's certificate and key from `files` (as `inv cert rotate` or `inv cert install` left them)
    /// and makes every new handshake use them.
    ///
    /// - Returns: the credentials now in use.
    /// - Throws: the errors of ``PKIFiles/loadNodeCredentials()`` and ``replace(with:)``; nothing changes then.
    @discardableResult
    public func reload(from files: PKIFiles) throws -> NodeCredentials {
        let credentials = try files.loadNodeCredentials()
        try replace(with: credentials)
        return credentials
    }

    /// ``NodeCredentials/serverTLS(requireClientCertificate:)`` that presents the current certificate.
    public func serverTLS(requireClientCertificate: Bool) -> TLSConfiguration {
        var configuration = initial.serverTLS(requireClientCertificate: requireClientCertificate)
        configuration.sslContextCallback = contextCallback
        return configuration
    }

    /// ``NodeCredentials/clientTLS(withClientCertificate:)`` with a client certificate: the current one.
    public func clientTLS() -> TLSConfiguration {
        var configuration = initial.clientTLS(withClientCertificate: true)
        configuration.sslContextCallback = contextCallback
        return configuration
    }

    /// Answers each handshake with the current certificate and key. It runs on the connection's event loop, so it
    /// only reads memory: the NIOSSL forms were built when the credentials were loaded.
    private var contextCallback: NIOSSLContextCallback {
        { [self] _, promise in
            let (credentials, generation) = self.state.withLock { ($0.current, $0.generation) }
            guard generation > 0 else { return promise.succeed(.noChanges) }
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = [.certificate(credentials.sslCertificate)]
            override.privateKey = .privateKey(credentials.sslPrivateKey)
            promise.succeed(override)
        }
    }
}
