import CRDT
// swift-crypto 3.12 does not yet mark its keys Sendable; they are immutable, and X509 imports Crypto the same way.
@preconcurrency import Crypto
import Foundation
import X509

/// The cluster's certificate authority: an ECDSA P-256 key and its self-signed CA certificate, which issues the
/// node certificates peers present to each other for mutual TLS.
///
/// The CA certificate has subject `O=inv, CN=inv cluster CA <cluster id>`, a critical `BasicConstraints` marking it
/// a CA with path length 0 (it issues leaves only, never intermediates), a critical `keyUsage` of `keyCertSign` and
/// `cRLSign`, and a subject key identifier. It is valid for ``validityDays`` days.
///
/// Invariants: ``certificate`` is a CA certificate whose public key is the public half of ``privateKey`` (checked
/// by every initializer), and every certificate this CA issues is signed by ``privateKey`` and lies within the CA's
/// own validity period. Time is injected: nothing here reads the wall clock; callers pass `now`.
public struct ClusterCA: Sendable {
    /// How long a new CA certificate is valid: ten years.
    public static let validityDays = 3650

    /// How far before `now` certificates start to be valid, so a peer whose clock is a little behind the issuer's
    /// still accepts a certificate issued a moment ago.
    public static let clockSkewAllowance: TimeInterval = 5 * 60

    /// The most characters a cluster ID may have (the CA's common name must fit the X.520 limit of 64).
    public static let maximumClusterIDLength = 48

    /// The organization (`O`) of every certificate this PKI issues.
    public static let organization = "inv"

    /// The organizational unit (`OU`) that marks a certificate as a warehouse node's.
    public static let warehouseUnit = "warehouse"

    /// The self-signed CA certificate, the only trust root of the cluster.
    public let certificate: Certificate

    /// The CA's signing key. Keep it off the nodes where possible: nodes need only ``certificate``.
    public let privateKey: P256.Signing.PrivateKey

    /// Creates a new cluster CA with a fresh P-256 key and a self-signed certificate.
    ///
    /// The certificate is valid from `now` minus ``clockSkewAllowance`` until `now` plus ``validityDays`` days
    /// (both truncated to whole seconds, the precision of X.509 times), and has a random serial number.
    ///
    /// - Parameters:
    ///   - clusterID: 1 to 48 ASCII characters of `[A-Za-z0-9_.-]`, named in the CA's common name.
    ///   - now: The issuing time.
    /// - Throws: ``PKIError/invalidClusterID(_:)``; swift-certificates errors if the certificate cannot be built.
    public init(clusterID: String, now: Date) throws {
        guard Self.isValidClusterID(clusterID) else { throw PKIError.invalidClusterID(clusterID) }
        let key = P256.Signing.PrivateKey()
        let signingKey = Certificate.PrivateKey(key)
        let publicKey = signingKey.publicKey
        let now = Self.wholeSeconds(now)
        let subject = try DistinguishedName {
            OrganizationName(Self.organization)
            CommonName("inv cluster CA \(clusterID)")
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: publicKey)
        }
        certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: now - Self.clockSkewAllowance,
            notValidAfter: now + Self.days(Self.validityDays),
            issuer: subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: signingKey)
        privateKey = key
    }

    /// Restores a CA from its certificate and key, for example as loaded by ``PKIFiles/loadCA()``.
    ///
    /// - Throws: ``PKIError/notACertificateAuthority(subject:)`` if `certificate` is not a CA certificate that may
    ///   sign certificates; ``PKIError/keyMismatch(certificate:key:)`` if `privateKey` is not its key.
    public init(certificate: Certificate, privateKey: P256.Signing.PrivateKey) throws {
        guard certificate.isCertificateAuthority else {
            throw PKIError.notACertificateAuthority(subject: certificate.subject.description)
        }
        guard certificate.isPublicKey(of: privateKey) else {
            throw PKIError.keyMismatch(certificate: certificate.subject.description, key: "the CA private key")
        }
        self.certificate = certificate
        self.privateKey = privateKey
    }

    /// Issues a node certificate, with a fresh P-256 key, for the warehouse `warehouse`.
    ///
    /// The certificate has subject `O=inv, OU=warehouse, CN=<warehouse>` (read back with ``warehouse(of:)``), one
    /// subject alternative name per host (an IP address if the host parses as IPv4 or IPv6, a DNS name otherwise)
    /// and no other, `extendedKeyUsage` of both `serverAuth` and `clientAuth` (a node uses the
    /// same certificate to serve and to call its peers), a critical `keyUsage` of `digitalSignature`, a critical
    /// `BasicConstraints` marking it not a CA, key identifiers, and a random serial number. It is valid from `now`
    /// minus ``clockSkewAllowance`` (but not before the CA) until `now` plus `validityDays` days.
    ///
    /// - Parameters:
    ///   - warehouse: The warehouse's replica ID (1 to 32 ASCII characters of `[A-Za-z0-9_-]`).
    ///   - hosts: The addresses and names peers will dial this node by.
    ///   - validityDays: How many days the certificate is valid; 825 by default (the old CA/Browser Forum cap).
    ///   - now: The issuing time.
    /// - Returns: The certificate and its private key.
    /// - Throws: ``PKIError/invalidWarehouse(_:)``, ``PKIError/invalidHost(_:)``, ``PKIError/noHosts``, or
    ///   ``PKIError/invalidValidity(_:)`` when `validityDays` is not positive, the CA is not valid at `now`, or the
    ///   certificate would outlive the CA; swift-certificates errors if the certificate cannot be built.
    public func issueNodeCertificate(
        warehouse: String, hosts: [String], validityDays: Int = 825, now: Date
    ) throws -> IssuedCertificate {
        guard ReplicaID.isValid(warehouse) else { throw PKIError.invalidWarehouse(warehouse) }
        // Only the hosts asked for: a certificate naming 127.0.0.1 and localhost for every node would let any member's
        // certificate pass the host check for any other member on one machine.
        guard !hosts.isEmpty else { throw PKIError.noHosts }
        let names = try Self.subjectAlternativeNames(for: hosts)
        let (notValidBefore, notValidAfter) = try leafValidity(days: validityDays, now: Self.wholeSeconds(now))

        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let subject = try DistinguishedName {
            OrganizationName(Self.organization)
            OrganizationalUnitName(Self.warehouseUnit)
            CommonName(warehouse)
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            try ExtendedKeyUsage([.serverAuth, .clientAuth])
            SubjectAlternativeNames(names)
            SubjectKeyIdentifier(hash: publicKey)
            AuthorityKeyIdentifier(keyIdentifier: certificate.keyIdentifier)
        }
        let issued = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: publicKey,
            notValidBefore: notValidBefore,
            notValidAfter: notValidAfter,
            issuer: certificate.subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(privateKey))
        return IssuedCertificate(checkedCertificate: issued, privateKey: key)
    }

    /// The warehouse a node certificate was issued to: its common name, if its subject is
    /// `O=inv, OU=warehouse, CN=<valid replica ID>` (each attribute exactly once); `nil` for any other certificate,
    /// including the CA's.
    ///
    /// This reads the subject only. It proves nothing by itself: call it on a certificate whose chain has been
    /// verified against the cluster CA, such as the peer certificate of a mutual-TLS connection.
    public static func warehouse(of certificate: Certificate) -> String? {
        var commonNames: [String] = []
        var organizations: [String] = []
        var units: [String] = []
        for relativeName in certificate.subject {
            for attribute in relativeName {
                switch attribute.type {
                case .RDNAttributeType.commonName: commonNames.append(String(attribute.value) ?? "")
                case .RDNAttributeType.organizationName: organizations.append(String(attribute.value) ?? "")
                case .RDNAttributeType.organizationalUnitName: units.append(String(attribute.value) ?? "")
                default: continue
                }
            }
        }
        guard organizations == [organization], units == [warehouseUnit], commonNames.count == 1,
            let warehouse = commonNames.first, ReplicaID.isValid(warehouse)
        else { return nil }
        return warehouse
    }

    /// Whether `clusterID` is 1 to ``maximumClusterIDLength`` ASCII characters of `[A-Za-z0-9_.-]`.
    public static func isValidClusterID(_ clusterID: String) -> Bool {
        let bytes = clusterID.utf8
        guard (1...maximumClusterIDLength).contains(bytes.count) else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }

    /// The validity of a leaf issued at `now` for `days` days, checked to lie within the CA's.
    private func leafValidity(days: Int, now: Date) throws -> (notBefore: Date, notAfter: Date) {
        guard days > 0 else { throw PKIError.invalidValidity("validity must be at least 1 day, not \(days)") }
        let caNotBefore = certificate.notValidBefore
        let caNotAfter = certificate.notValidAfter
        guard now >= caNotBefore, now < caNotAfter else {
            throw PKIError.invalidValidity(
                "the cluster CA is valid from \(caNotBefore) to \(caNotAfter), not at the issuing time \(now)")
        }
        let notAfter = now + Self.days(days)
        guard notAfter <= caNotAfter else {
            throw PKIError.invalidValidity(
                "a \(days)-day certificate issued at \(now) would outlive the cluster CA, which expires at "
                    + "\(caNotAfter); issue a shorter one or rotate the CA")
        }
        return (max(now - Self.clockSkewAllowance, caNotBefore), notAfter)
    }

    private static func days(_ count: Int) -> TimeInterval { TimeInterval(count) * 24 * 60 * 60 }

    /// `date` truncated to whole seconds, the precision X.509 stores, so checks agree with what is encoded.
    private static func wholeSeconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
    }
}
