/// The errors the cluster PKI can report.
///
/// Every case carries what is needed to explain the refusal (the offending value or file path), and
/// ``description`` renders it as one human-readable line, suitable for a CLI's stderr. Nothing is written or
/// changed when an operation throws a `PKIError`, except where the case says otherwise.
public enum PKIError: Error, Equatable, Sendable {
    /// The cluster ID is not 1 to 48 ASCII characters of `[A-Za-z0-9_.-]`.
    case invalidClusterID(String)

    /// The warehouse ID is not a valid `ReplicaID` (1 to 32 ASCII characters of `[A-Za-z0-9_-]`).
    case invalidWarehouse(String)

    /// A host is neither an IPv4/IPv6 address nor a DNS name (ASCII letters, digits, `-`, `.` and `*`).
    case invalidHost(String)

    /// A node certificate was asked for without any host: peers could not dial it by any name.
    case noHosts

    /// The requested validity cannot be issued: a non-positive length, a CA not yet or no longer valid at the
    /// issuing time, or a leaf that would outlive its CA.
    case invalidValidity(String)

    /// The certificate is not a certificate authority (no `BasicConstraints` CA flag or no `keyCertSign`).
    case notACertificateAuthority(subject: String)

    /// The node certificate was not signed by the cluster CA it is paired with.
    case notIssuedByClusterCA(subject: String, clusterCA: String)

    /// A private key does not belong to the certificate it is paired with.
    ///
    /// `certificate` and `key` name the two halves: file paths when loaded from disk, subjects otherwise.
    case keyMismatch(certificate: String, key: String)

    /// A file that should be there is not.
    case missingFile(path: String)

    /// A file exists but does not hold the PEM object expected there.
    case malformedPEM(path: String, reason: String)

    /// Writing would replace an existing file and overwriting was not asked for.
    case fileExists(path: String)

    /// A file-system call failed; `operation` names it and `errno` is the C error code.
    case fileSystem(path: String, operation: String, errno: Int32)
}

extension PKIError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .invalidClusterID(let raw):
            "invalid cluster ID \(String(reflecting: Self.truncated(raw))): "
                + "must be 1 to 48 characters of A-Z, a-z, 0-9, '_', '.' or '-'"
        case .invalidWarehouse(let raw):
            "invalid warehouse ID \(String(reflecting: Self.truncated(raw))): "
                + "must be 1 to 32 characters of A-Z, a-z, 0-9, '_' or '-'"
        case .noHosts:
            "a node certificate must name at least one host or IP address peers reach the node by (--host)"
        case .invalidHost(let raw):
            "invalid host \(String(reflecting: Self.truncated(raw))): "
                + "must be an IPv4 or IPv6 address or a DNS name of ASCII letters, digits, '-', '.' and '*'"
        case .invalidValidity(let reason):
            "invalid certificate validity: \(reason)"
        case .notACertificateAuthority(let subject):
            "certificate \(subject) is not a certificate authority"
        case .notIssuedByClusterCA(let subject, let clusterCA):
            "certificate \(subject) was not issued by the cluster CA \(clusterCA)"
        case .keyMismatch(let certificate, let key):
            "private key \(key) does not match certificate \(certificate)"
        case .missingFile(let path):
            "missing file \(path)"
        case .malformedPEM(let path, let reason):
            "malformed PEM in \(path): \(reason)"
        case .fileExists(let path):
            "refusing to overwrite existing file \(path)"
        case .fileSystem(let path, let operation, let code):
            "\(operation) \(path) failed: \(SecureFileIO.errorString(code)) (errno \(code))"
        }
    }

    private static func truncated(_ raw: String) -> String {
        raw.count > 64 ? String(raw.prefix(64)) + "…" : raw
    }
}
