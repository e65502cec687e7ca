import Foundation
import SwiftASN1
import SyncServer
import X509

/// Shared fixtures of the PKI tests.
enum PKIFixture {
    /// A fixed issuing time (2026-01-01T00:00:00Z) for tests that do not touch a live TLS stack.
    static let now = Date(timeIntervalSince1970: 1_767_225_600)

    /// A fresh cluster: a CA and the credentials of one node, issued at `now`.
    static func cluster(
        id: String = "test-cluster", warehouse: String = "shop-1", hosts: [String] = ["127.0.0.1"], now: Date = now
    ) throws -> (ca: ClusterCA, node: NodeCredentials) {
        let ca = try ClusterCA(clusterID: id, now: now)
        let issued = try ca.issueNodeCertificate(warehouse: warehouse, hosts: hosts, now: now)
        return (ca, try NodeCredentials(clusterCA: ca.certificate, node: issued))
    }
}

/// A directory under the system temporary directory, removed by ``cleanup()``.
struct PKITemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("inv-pki-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    /// The permission bits of the file at `path`.
    static func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    func cleanup() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

extension Certificate {
    /// This certificate as PEM text, for tests that write files by hand.
    func pemFixture() throws -> String {
        try serializeAsPEM().pemString
    }
}
