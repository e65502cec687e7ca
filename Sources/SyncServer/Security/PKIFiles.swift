import Crypto
import SwiftASN1
import X509

/// The cluster PKI on disk: PEM files in one directory.
///
/// | File          | Holds                                  | Mode |
/// |---------------|----------------------------------------|------|
/// | `ca.pem`      | the cluster CA certificate             | 0644 |
/// | `ca-key.pem`  | the cluster CA private key (PKCS #8)   | 0600 |
/// | `node.pem`    | this node's certificate                | 0644 |
/// | `node-key.pem`| this node's private key (PKCS #8)      | 0600 |
///
/// A node needs `ca.pem`, `node.pem` and `node-key.pem`; `ca-key.pem` belongs where certificates are issued.
///
/// Invariants: files are created with mode 0600 and reach their final mode and name only when complete (see
/// ``SecureFileIO``), so a key is never readable by others, not even for a moment; existing files are replaced
/// only when `overwrite` is asked for; loading checks every PEM, and that each key matches its certificate.
public struct PKIFiles: Sendable {
    /// The name of the cluster CA certificate file.
    public static let caCertificateFileName = "ca.pem"
    /// The name of the cluster CA private key file.
    public static let caKeyFileName = "ca-key.pem"
    /// The name of the node certificate file.
    public static let nodeCertificateFileName = "node.pem"
    /// The name of the node private key file.
    public static let nodeKeyFileName = "node-key.pem"

    /// The permission bits of certificate files.
    public static let certificateMode: UInt16 = 0o644
    /// The permission bits of private key files.
    public static let keyMode: UInt16 = 0o600

    /// The directory holding the files.
    public let directory: String

    /// Files in `directory` (not touched until something is written or loaded).
    public init(directory: String) {
        self.directory = directory
    }

    /// The path of `ca.pem`.
    public var caCertificatePath: String { path(Self.caCertificateFileName) }
    /// The path of `ca-key.pem`.
    public var caKeyPath: String { path(Self.caKeyFileName) }
    /// The path of `node.pem`.
    public var nodeCertificatePath: String { path(Self.nodeCertificateFileName) }
    /// The path of `node-key.pem`.
    public var nodeKeyPath: String { path(Self.nodeKeyFileName) }

    /// Writes the CA certificate and key (`ca.pem`, `ca-key.pem`), creating the directory (mode 0700) if needed.
    ///
    /// - Throws: ``PKIError/fileExists(path:)`` if either file exists and `overwrite` is false (then nothing is
    ///   written); ``PKIError/fileSystem(path:operation:errno:)``.
    public func write(ca: ClusterCA, overwrite: Bool = false) throws {
        try write(
            certificate: ca.certificate, to: caCertificatePath, key: ca.privateKey, to: caKeyPath,
            overwrite: overwrite)
    }

    /// Writes only the CA certificate (`ca.pem`), as a node needs it, creating the directory if needed.
    ///
    /// - Throws: ``PKIError/fileExists(path:)`` if it exists and `overwrite` is false;
    ///   ``PKIError/fileSystem(path:operation:errno:)``.
    public func write(caCertificate: Certificate, overwrite: Bool = false) throws {
        try SecureFileIO.createDirectory(directory)
        try SecureFileIO.store(
            Array(caCertificate.pemString.utf8), at: caCertificatePath, mode: Self.certificateMode,
            overwrite: overwrite)
    }

    /// Writes a node certificate and key (`node.pem`, `node-key.pem`), creating the directory if needed.
    ///
    /// - Throws: ``PKIError/fileExists(path:)`` if either file exists and `overwrite` is false (then nothing is
    ///   written); ``PKIError/fileSystem(path:operation:errno:)``.
    public func write(node: IssuedCertificate, overwrite: Bool = false) throws {
        try write(
            certificate: node.certificate, to: nodeCertificatePath, key: node.privateKey, to: nodeKeyPath,
            overwrite: overwrite)
    }

    /// Loads the CA certificate (`ca.pem`).
    ///
    /// - Throws: ``PKIError/missingFile(path:)``, ``PKIError/malformedPEM(path:reason:)``.
    public func loadCACertificate() throws -> Certificate {
        try loadCertificate(caCertificatePath)
    }

    /// Loads the cluster CA, certificate and key (`ca.pem`, `ca-key.pem`).
    ///
    /// - Throws: ``PKIError/missingFile(path:)``, ``PKIError/malformedPEM(path:reason:)``,
    ///   ``PKIError/notACertificateAuthority(subject:)``, ``PKIError/keyMismatch(certificate:key:)``.
    public func loadCA() throws -> ClusterCA {
        let certificate = try loadCertificate(caCertificatePath)
        let key = try loadKey(caKeyPath)
        guard certificate.isPublicKey(of: key) else {
            throw PKIError.keyMismatch(certificate: caCertificatePath, key: caKeyPath)
        }
        return try ClusterCA(certificate: certificate, privateKey: key)
    }

    /// Loads this node's certificate and key (`node.pem`, `node-key.pem`).
    ///
    /// - Throws: ``PKIError/missingFile(path:)``, ``PKIError/malformedPEM(path:reason:)``,
    ///   ``PKIError/keyMismatch(certificate:key:)``.
    ///
    /// If ``replace(node:)`` was interrupted between its two renames (a new key beside the old certificate), the
    /// staged new certificate is used when it matches the key; the next replacement tidies the files up.
    public func loadNode() throws -> IssuedCertificate {
        let certificate = try loadCertificate(nodeCertificatePath)
        let key = try loadKey(nodeKeyPath)
        guard certificate.isPublicKey(of: key) else {
            if SecureFileIO.exists(stagedNodeCertificatePath),
                let staged = try? loadCertificate(stagedNodeCertificatePath), staged.isPublicKey(of: key)
            {
                return IssuedCertificate(checkedCertificate: staged, privateKey: key)
            }
            throw PKIError.keyMismatch(certificate: nodeCertificatePath, key: nodeKeyPath)
        }
        return IssuedCertificate(checkedCertificate: certificate, privateKey: key)
    }

    /// Loads everything a node needs for mutual TLS (`ca.pem`, `node.pem`, `node-key.pem`).
    ///
    /// - Throws: the errors of ``loadCACertificate()``, ``loadNode()`` and ``NodeCredentials/init(clusterCA:node:)``.
    public func loadNodeCredentials() throws -> NodeCredentials {
        try NodeCredentials(clusterCA: loadCACertificate(), node: loadNode())
    }

    private func path(_ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Writes a key and its certificate, key first: a crash in between leaves a key without a certificate, which
    /// loading reports as a missing file, never a certificate without its key.
    private func write(
        certificate: Certificate, to certificatePath: String, key: P256.Signing.PrivateKey, to keyPath: String,
        overwrite: Bool
    ) throws {
        try SecureFileIO.createDirectory(directory)
        if !overwrite {
            for path in [keyPath, certificatePath] where SecureFileIO.exists(path) {
                throw PKIError.fileExists(path: path)
            }
        }
        let certificatePEM = try certificate.pemString
        try SecureFileIO.store(
            Array(key.pemRepresentation.utf8), at: keyPath, mode: Self.keyMode, overwrite: overwrite)
        try SecureFileIO.store(
            Array(certificatePEM.utf8), at: certificatePath, mode: Self.certificateMode, overwrite: overwrite)
    }

    private func loadCertificate(_ path: String) throws -> Certificate {
        let text = try pemText(path)
        do {
            return try Certificate(pemEncoded: text)
        } catch {
            throw PKIError.malformedPEM(path: path, reason: "not a PEM X.509 certificate (\(error))")
        }
    }

    private func loadKey(_ path: String) throws -> P256.Signing.PrivateKey {
        let text = try pemText(path)
        do {
            return try P256.Signing.PrivateKey(pemRepresentation: text)
        } catch {
            throw PKIError.malformedPEM(path: path, reason: "not a PEM P-256 private key (\(error))")
        }
    }

    private func pemText(_ path: String) throws -> String {
        let bytes = try SecureFileIO.contents(of: path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw PKIError.malformedPEM(path: path, reason: "not UTF-8 text")
        }
        return text
    }
}
