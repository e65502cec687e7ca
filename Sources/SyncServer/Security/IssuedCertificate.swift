// swift-crypto 3.12 does not yet mark its keys Sendable; they are immutable, and X509 imports Crypto the same way.
@preconcurrency import Crypto
import X509

/// A certificate together with its private key, as returned by
/// ``ClusterCA/issueNodeCertificate(warehouse:hosts:validityDays:now:)`` and stored by ``PKIFiles`` as `node.pem` and
/// `node-key.pem`.
///
/// Invariant: ``certificate``'s public key is the public half of ``privateKey`` (checked by every initializer).
public struct IssuedCertificate: Sendable {
    /// The certificate.
    public let certificate: Certificate

    /// The certificate's private key.
    public let privateKey: P256.Signing.PrivateKey

    /// Pairs a certificate with its private key.
    ///
    /// - Throws: ``PKIError/keyMismatch(certificate:key:)`` if `privateKey` is not the key of `certificate`.
    public init(certificate: Certificate, privateKey: P256.Signing.PrivateKey) throws {
        guard certificate.isPublicKey(of: privateKey) else {
            throw PKIError.keyMismatch(certificate: certificate.subject.description, key: "the given private key")
        }
        self.init(checkedCertificate: certificate, privateKey: privateKey)
    }

    /// Pairs a certificate with the key it was just built from, which the caller vouches for.
    init(checkedCertificate certificate: Certificate, privateKey: P256.Signing.PrivateKey) {
        self.certificate = certificate
        self.privateKey = privateKey
    }
}
