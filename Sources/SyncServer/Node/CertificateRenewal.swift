import Foundation
import X509

/// Replaces a node's certificate and key in its data directory (`inv cert rotate`, `inv cert install`); a running
/// node picks the new pair up with ``ReloadableCredentials/reload(from:)`` (`POST /v1/certificate/reload` or
/// SIGHUP), or at its next start.
///
/// Invariants: the new certificate is checked before any file is touched: it is signed by the cluster CA in
/// `tls/ca.pem`, names this node's warehouse, and matches its key; the files are replaced as
/// ``PKIFiles/replace(node:)`` describes. The cluster CA itself never changes here.
public enum CertificateRenewal {
    /// The certificate before and after a replacement.
    public struct Outcome: Sendable {
        /// The certificate replaced; `nil` if the old files could not be read.
        public var previous: CertificateSummary?
        public var current: CertificateSummary
        /// Hosts the previous certificate named that the new one does not: peers dialling them will fail.
        public var droppedHosts: [String] {
            previous.map { old in old.hosts.filter { !current.hosts.contains($0) } } ?? []
        }
    }

    /// Issues this node a new certificate (fresh key, same warehouse) with the cluster CA key held in `directory`.
    ///
    /// - Parameters:
    ///   - hosts: the names peers dial this node by; by default those of the current certificate (or, without
    ///     one, the host of the listen address). Only these: no name is added.
    ///   - validityDays: how long the new certificate is valid.
    /// - Throws: `NodeError.other` when this node holds no CA key (saying what to do instead); `NodeError` for a
    ///   bad data directory; `PKIError`.
    public static func renew(
        directory: DataDirectory, hosts: [String]? = nil, validityDays: Int = 825, now: Date = Date()
    ) throws -> Outcome {
        let config = try directory.loadConfig()
        let files = PKIFiles(directory: directory.tlsDirectory)
        guard FileManager.default.fileExists(atPath: files.caKeyPath) else {
            throw NodeError.other(
                "this node holds no cluster CA key (\(files.caKeyPath)); on the node that does, run "
                    + "`inv cert issue \(config.warehouse) --host HOST --out FILE`, then here `inv cert install FILE --data \(directory.path)`")
        }
        let ca = try files.loadCA()
        let previous = try? files.loadNode()
        let listenHost = try config.listenAddress().host
        let names = hosts ?? previous.map { CertificateSummary($0.certificate).hosts } ?? [listenHost]
        let issued = try ca.issueNodeCertificate(warehouse: config.warehouse, hosts: names, validityDays: validityDays, now: now)
        return try install(issued, clusterCA: ca.certificate, previous: previous, files: files)
    }

    /// Installs a certificate issued for this node on the CA-holding node (`inv cert issue WAREHOUSE --out FILE`
    /// there: the join-bundle format; its peer address is not used).
    ///
    /// - Throws: `NodeError.other` if the bundle is for another warehouse or from another cluster CA;
    ///   `NodeError` for a bad data directory; `PKIError`.
    public static func install(_ bundle: JoinBundle, directory: DataDirectory) throws -> Outcome {
        let config = try directory.loadConfig()
        guard bundle.warehouse == config.warehouse else {
            throw NodeError.other("the bundle is for warehouse \(bundle.warehouse), but this node is \(config.warehouse)")
        }
        let (bundleCA, issued) = try bundle.credentials()
        let files = PKIFiles(directory: directory.tlsDirectory)
        let clusterCA = try files.loadCACertificate()
        guard bundleCA == clusterCA else {
            throw NodeError.other(
                "the bundle was issued by another cluster CA (\(bundleCA.subject)) than this node's (\(clusterCA.subject))")
        }
        return try install(issued, clusterCA: clusterCA, previous: try? files.loadNode(), files: files)
    }

    private static func install(
        _ issued: IssuedCertificate, clusterCA: Certificate, previous: IssuedCertificate?, files: PKIFiles
    ) throws -> Outcome {
        // The same checks `inv serve` makes when it loads the files: refuse now rather than at the next start.
        _ = try NodeCredentials(clusterCA: clusterCA, node: issued)
        try files.replace(node: issued)
        return Outcome(previous: previous.map { CertificateSummary($0.certificate) }, current: CertificateSummary(issued.certificate))
    }
}
