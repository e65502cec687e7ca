import Crypto
import SwiftASN1
import X509

// Small readings of certificates shared by the PKI types.
extension Certificate {
    /// Whether this certificate's public key is the public half of `privateKey`.
    func isPublicKey(of privateKey: P256.Signing.PrivateKey) -> Bool {
        publicKey == Certificate.PublicKey(privateKey.publicKey)
    }

    /// Whether this is a CA certificate allowed to sign certificates: `BasicConstraints` with the CA flag and, if a
    /// `keyUsage` is present, `keyCertSign` (RFC 5280 §4.2.1.3, §4.2.1.9). An undecodable extension counts as no.
    var isCertificateAuthority: Bool {
        do {
            guard case .isCertificateAuthority = try extensions.basicConstraints else { return false }
            return try extensions.keyUsage?.keyCertSign ?? true
        } catch {
            return false
        }
    }

    /// The identifier of this certificate's key: its subject key identifier, or, for a certificate without a
    /// readable one, the SHA-1 of its public key (RFC 5280 §4.2.1.2, method 1).
    var keyIdentifier: ArraySlice<UInt8> {
        let identifier = try? extensions.subjectKeyIdentifier
        return (identifier ?? SubjectKeyIdentifier(hash: publicKey)).keyIdentifier
    }

    /// The certificate in DER, as NIOSSL takes it.
    var derBytes: [UInt8] {
        get throws {
            var serializer = DER.Serializer()
            try serializer.serialize(self)
            return serializer.serializedBytes
        }
    }

    /// The certificate as a `-----BEGIN CERTIFICATE-----` PEM document.
    var pemString: String {
        get throws { try serializeAsPEM().pemString }
    }
}
