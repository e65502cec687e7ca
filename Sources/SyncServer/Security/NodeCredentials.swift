import Crypto
import NIOSSL
import X509

/// What a node needs for mutual TLS with its peers: the cluster CA certificate (its only trust root) and its own
/// node certificate and key, as loaded by ``PKIFiles/loadNodeCredentials()``.
///
/// The TLS configurations are built from it by ``serverTLS(requireClientCertificate:)`` and
/// ``clientTLS(withClientCertificate:)``.
///
/// Invariants (checked by the initializer): ``clusterCA`` is a CA certificate; ``node``'s certificate names
/// ``clusterCA`` as its issuer and carries a valid signature by it; its subject names a warehouse (``warehouse``);
/// and the key matches the certificate. Validity periods are not checked here: TLS checks them at each handshake
/// against the clock of the moment.
public struct NodeCredentials: Sendable {
    /// The cluster CA certificate, the only certificate this node trusts as a root.
    public let clusterCA: Certificate

    /// This node's certificate and private key.
    public let node: IssuedCertificate

    /// The warehouse this node's certificate was issued to.
    public let warehouse: String

    /// The same material in NIOSSL's form, converted once here so building a TLS configuration cannot fail.
    let sslClusterCA: NIOSSLCertificate
    let sslCertificate: NIOSSLCertificate
    let sslPrivateKey: NIOSSLPrivateKey

    /// Pairs a node's certificate and key with the cluster CA certificate that issued it.
    ///
    /// - Throws: ``PKIError/notACertificateAuthority(subject:)``,
    ///   ``PKIError/notIssuedByClusterCA(subject:clusterCA:)``, ``PKIError/invalidWarehouse(_:)`` if the certificate's
    ///   subject names no warehouse; NIOSSL errors if BoringSSL rejects the material.
    public init(clusterCA: Certificate, node: IssuedCertificate) throws {
        guard clusterCA.isCertificateAuthority else {
            throw PKIError.notACertificateAuthority(subject: clusterCA.subject.description)
        }
        let certificate = node.certificate
        guard certificate.issuer == clusterCA.subject,
            clusterCA.publicKey.isValidSignature(certificate.signature, for: certificate)
        else {
            throw PKIError.notIssuedByClusterCA(
                subject: certificate.subject.description, clusterCA: clusterCA.subject.description)
        }
        guard let warehouse = ClusterCA.warehouse(of: certificate) else {
            throw PKIError.invalidWarehouse(certificate.subject.description)
        }
        self.clusterCA = clusterCA
        self.node = node
        self.warehouse = warehouse
        sslClusterCA = try NIOSSLCertificate(bytes: clusterCA.derBytes, format: .der)
        sslCertificate = try NIOSSLCertificate(bytes: certificate.derBytes, format: .der)
        sslPrivateKey = try NIOSSLPrivateKey(bytes: Array(node.privateKey.derRepresentation), format: .der)
    }
}
