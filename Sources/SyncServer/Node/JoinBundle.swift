import Crypto
import Foundation
import Store
import SwiftASN1
import X509

/// What a new warehouse needs to join the cluster: the CA certificate, its own CA-signed certificate and key, and
/// the address of one existing peer. Written by `inv cert issue`, read by `inv init --join`. Holds a private key:
/// the file is created with mode 0600 and should travel over a trusted channel.
///
/// Versions: 1 has no `existing_warehouse`; 2 adds it. Both are read (a version-1 bundle is taken as a new
/// warehouse's); an older inv refuses a version-2 bundle rather than ignore the field.
public struct JoinBundle: Codable, Sendable {
    public static let currentVersion = 2
    /// The versions ``read(from:)`` accepts.
    public static let readableVersions = 1...2

    public var version: Int
    public var warehouse: String
    public var caCertificate: String
    public var certificate: String
    public var privateKey: String
    public var peerWarehouse: String
    public var peerURL: String
    /// Whether the issuing node already knew the warehouse (a member, or operations of it in its ledger): the bundle
    /// replaces a lost node, not a new one. Nil in version-1 bundles.
    ///
    /// Why it matters: a replacement starts with an empty ledger while peers hold the lost node's operations. Were it
    /// to write at once, it would number its operations with sequences already used by the lost node (replicas would
    /// diverge for ever) and sell from a stock that lacks the lost node's sales. With the flag, `inv init --join` marks
    /// the node as catching up, as `inv restore` does, so it refuses local writes until it has synced with every
    /// active member (see `CatchUpGuard`), even if the operator skips the restore.
    public var existingWarehouse: Bool?

    enum CodingKeys: String, CodingKey {
        case version, warehouse, certificate
        case caCertificate = "ca_certificate"
        case privateKey = "private_key"
        case peerWarehouse = "peer_warehouse"
        case peerURL = "peer_url"
        case existingWarehouse = "existing_warehouse"
    }

    /// Issues a certificate for `warehouse` with the cluster CA held in `directory`.
    public static func issue(
        warehouse: String, hosts: [String], directory: DataDirectory, config: NodeConfig, now: Date = Date()
    ) throws -> JoinBundle {
        let pki = PKIFiles(directory: directory.tlsDirectory)
        let ca: ClusterCA
        do { ca = try pki.loadCA() } catch {
            throw NodeError.other("this node holds no cluster CA key (\(pki.caKeyPath)); issue certificates on the node that created the cluster")
        }
        // Without hosts, the host of this node's own URL: right for nodes on one machine (the demo, tests); a node
        // elsewhere is named with `--host`.
        let names = hosts.isEmpty ? [NodeConfig.urlHost(try config.listenAddress().host)] : hosts
        let issued = try ca.issueNodeCertificate(warehouse: warehouse, hosts: names, now: now)
        let existing = try warehouse == config.warehouse
            || DatabaseBackup.knowsWarehouse(warehouse, databaseAt: directory.databaseFile)
        return JoinBundle(
            version: currentVersion, warehouse: warehouse, caCertificate: try ca.certificate.serializeAsPEM().pemString,
            certificate: try issued.certificate.serializeAsPEM().pemString, privateKey: issued.privateKey.pemRepresentation,
            peerWarehouse: config.warehouse, peerURL: try config.effectivePeerURL(), existingWarehouse: existing)
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try DataDirectory.write(try encoder.encode(self), to: path)
    }

    public static func read(from path: String) throws -> JoinBundle {
        guard let data = FileManager.default.contents(atPath: path) else { throw NodeError.other("cannot read join bundle \(path)") }
        let bundle: JoinBundle
        do { bundle = try JSONDecoder().decode(JoinBundle.self, from: data) } catch {
            throw NodeError.other("\(path) is not a join bundle: \(DataDirectory.describe(error))")
        }
        guard readableVersions.contains(bundle.version) else { throw NodeError.other("join bundle version \(bundle.version) is not supported") }
        return bundle
    }

    /// The CA certificate and this node's certificate and key, checked against each other.
    public func credentials() throws -> (ca: Certificate, node: IssuedCertificate) {
        do {
            let ca = try Certificate(pemEncoded: caCertificate)
            let node = try IssuedCertificate(
                certificate: try Certificate(pemEncoded: certificate), privateKey: try P256.Signing.PrivateKey(pemRepresentation: privateKey))
            guard ClusterCA.warehouse(of: node.certificate) == warehouse else {
                throw NodeError.other("the bundle's certificate is not for \(warehouse)")
            }
            return (ca, node)
        } catch let error as NodeError {
            throw error
        } catch {
            throw NodeError.other("the join bundle's certificates are damaged: \(error)")
        }
    }
}
