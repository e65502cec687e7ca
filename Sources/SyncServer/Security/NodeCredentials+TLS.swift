import NIOSSL

extension NodeCredentials {
    /// The TLS configuration of this node's HTTPS server (for HummingbirdTLS's `.tls(_:tlsConfiguration:)`).
    ///
    /// TLS 1.2 or later; presents this node's certificate; trusts only the cluster CA (never the system store).
    ///
    /// With `requireClientCertificate`, the server asks for a client certificate and refuses the handshake unless
    /// the client presents one that chains to the cluster CA and is valid for client authentication
    /// (`certificateVerification = .noHostnameVerification`, which NIOSSL maps to BoringSSL's
    /// `SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT`; see `NIOSSLContext.configureCertificateValidation` in
    /// swift-nio-ssl `Sources/NIOSSL/SSLContext.swift`). Hostnames are not checked, as a client's address proves
    /// nothing. The cluster CA's name is sent in the certificate request so clients pick the right certificate.
    ///
    /// Without it, no client certificate is requested (`certificateVerification = .none`, under which NIOSSL does
    /// not call `SSL_CTX_set_verify` at all) and any client can complete the handshake.
    public func serverTLS(requireClientCertificate: Bool) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(sslCertificate)], privateKey: .privateKey(sslPrivateKey))
        configuration.minimumTLSVersion = .tlsv12
        configuration.trustRoots = .certificates([sslClusterCA])
        configuration.additionalTrustRoots = []
        configuration.certificateVerification = requireClientCertificate ? .noHostnameVerification : .none
        configuration.sendCANameList = requireClientCertificate
        return configuration
    }

    /// The TLS configuration for calling peers with AsyncHTTPClient (`HTTPClient.Configuration(tlsConfiguration:)`).
    ///
    /// TLS 1.2 or later; trusts only the cluster CA (never the system store); full verification: the server's
    /// certificate must chain to the cluster CA and name the host dialled (a DNS name, or an IP address matched
    /// against the connected address). With `withClientCertificate`, presents this node's certificate and key, for
    /// servers that require mutual TLS.
    public func clientTLS(withClientCertificate: Bool) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.trustRoots = .certificates([sslClusterCA])
        configuration.additionalTrustRoots = []
        configuration.certificateVerification = .fullVerification
        if withClientCertificate {
            configuration.certificateChain = [.certificate(sslCertificate)]
            configuration.privateKey = .privateKey(sslPrivateKey)
        }
        return configuration
    }
}
