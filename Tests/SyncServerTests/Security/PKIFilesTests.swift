import Crypto
import Foundation
import SyncServer
import Testing
import X509

@Suite("PKI files: PEM on disk, keys private from the first byte")
struct PKIFilesTests {
    @Test func writeThenLoadRoundTrips() throws {
        let directory = try PKITemporaryDirectory()
        defer { directory.cleanup() }
        let (ca, node) = try PKIFixture.cluster(hosts: ["node-a.inv.test"])
        let files = PKIFiles(directory: directory.file("pki/nested"))

        try files.write(ca: ca)
        try files.write(node: node.node)

        let loadedCA = try files.loadCA()
        #expect(loadedCA.certificate == ca.certificate)
        #expect(loadedCA.privateKey.rawRepresentation == ca.privateKey.rawRepresentation)
        #expect(try files.loadCACertificate() == ca.certificate)
        let loadedNode = try files.loadNode()
        #expect(loadedNode.certificate == node.node.certificate)
        #expect(loadedNode.privateKey.rawRepresentation == node.node.privateKey.rawRepresentation)
        let credentials = try files.loadNodeCredentials()
        #expect(credentials.warehouse == "shop-1")
        #expect(credentials.clusterCA == ca.certificate)

        // A CA restored from disk issues certificates that chain to the original.
        let reissued = try loadedCA.issueNodeCertificate(warehouse: "shop-2", hosts: ["127.0.0.1"], now: PKIFixture.now)
        #expect(try NodeCredentials(clusterCA: ca.certificate, node: reissued).warehouse == "shop-2")

        let pem = try String(contentsOfFile: files.caCertificatePath, encoding: .utf8)
        #expect(pem.hasPrefix("-----BEGIN CERTIFICATE-----\n"))
        let keyPEM = try String(contentsOfFile: files.nodeKeyPath, encoding: .utf8)
        #expect(keyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
    }

    @Test func keysAre0600CertificatesAre0644AndNothingElseIsLeft() throws {
        let directory = try PKITemporaryDirectory()
        defer { directory.cleanup() }
        let (ca, node) = try PKIFixture.cluster()
        let files = PKIFiles(directory: directory.file("pki"))

        try files.write(ca: ca)
        try files.write(node: node.node)
        try files.write(node: node.node, overwrite: true)

        #expect(try PKITemporaryDirectory.mode(files.caKeyPath) == 0o600)
        #expect(try PKITemporaryDirectory.mode(files.nodeKeyPath) == 0o600)
        #expect(try PKITemporaryDirectory.mode(files.caCertificatePath) == 0o644)
        #expect(try PKITemporaryDirectory.mode(files.nodeCertificatePath) == 0o644)
        #expect(try PKITemporaryDirectory.mode(files.directory) == 0o700)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: files.directory).sorted()
                == ["ca-key.pem", "ca.pem", "node-key.pem", "node.pem"])
    }

    @Test func refusesToOverwriteUnlessAsked() throws {
        let directory = try PKITemporaryDirectory()
        defer { directory.cleanup() }
        let (ca, node) = try PKIFixture.cluster()
        let (otherCA, otherNode) = try PKIFixture.cluster(id: "other")
        let files = PKIFiles(directory: directory.path)
        try files.write(ca: ca)
        try files.write(node: node.node)

        #expect(throws: PKIError.fileExists(path: files.caKeyPath)) { try files.write(ca: otherCA) }
        #expect(throws: PKIError.fileExists(path: files.caCertificatePath)) {
            try files.write(caCertificate: otherCA.certificate)
        }
        #expect(throws: PKIError.fileExists(path: files.nodeKeyPath)) { try files.write(node: otherNode.node) }
        #expect(try files.loadCA().certificate == ca.certificate)
        #expect(try files.loadNode().certificate == node.node.certificate)

        try files.write(ca: otherCA, overwrite: true)
        try files.write(node: otherNode.node, overwrite: true)
        #expect(try files.loadCA().certificate == otherCA.certificate)
        #expect(try files.loadNodeCredentials().node.certificate == otherNode.node.certificate)
    }

    @Test func nodeNeedsOnlyTheCACertificate() throws {
        let directory = try PKITemporaryDirectory()
        defer { directory.cleanup() }
        let (ca, node) = try PKIFixture.cluster()
        let files = PKIFiles(directory: directory.path)
        try files.write(caCertificate: ca.certificate)
        try files.write(node: node.node)

        #expect(try files.loadNodeCredentials().warehouse == "shop-1")
        #expect(throws: PKIError.missingFile(path: files.caKeyPath)) { try files.loadCA() }
        #expect(try PKITemporaryDirectory.mode(files.caCertificatePath) == 0o644)
    }

    @Test func missingFilesAreNamed() throws {
        let directory = try PKITemporaryDirectory()
        defer { directory.cleanup() }
        let files = PKIFiles(directory: directory.path)
        #expect(throws: PKIError.missingFile(path: files.caCertificatePath)) { try files.loadCA() }
        #expect(throws: PKIError.missingFile(path: files.nodeCertificatePath)) { try files.loadNode() }
        #expect(throws: PKIError.missingFile(path: files.caCertificatePath)) { try files.loadNodeCredentials() }

        let (_, node) = try PKIFixture.cluster()
        try Data(node.node.certificate.pemFixture().utf8).write(to: URL(fileURLWithPath: files.nodeCertificatePath))
        #expect(throws: PKIError.missingFile(path: files.nodeKeyPath)) { try files.loadNode() }
    }

    @Test func malformedPEMIsNamed() throws {
        let directory = try PKITemporaryDirectory()
        defer { directory.cleanup() }
        let (ca, node) = try PKIFixture.cluster()
        let files = PKIFiles(directory: directory.path)
        try files.write(ca: ca)
        try files.write(node: node.node)

        try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: files.nodeCertificatePath))
        let certificateError = try #require(throws: PKIError.self) { try files.loadNode() }
        guard case .malformedPEM(let path, _) = certificateError else {
            Issue.record("expected malformedPEM, got \(certificateError)")
            return
        }
        #expect(path == files.nodeCertificatePath)

        // A certificate where the key belongs is just as malformed.
        try Data(ca.certificate.pemFixture().utf8).write(to: URL(fileURLWithPath: files.caKeyPath))
        let keyError = try #require(throws: PKIError.self) { try files.loadCA() }
        guard case .malformedPEM(let keyPath, _) = keyError else {
            Issue.record("expected malformedPEM, got \(keyError)")
            return
        }
        #expect(keyPath == files.caKeyPath)
        #expect(!keyError.description.contains("\n"))
    }

    @Test func aKeyThatIsNotTheCertificatesIsRefused() throws {
        let directory = try PKITemporaryDirectory()
        defer { directory.cleanup() }
        let (ca, node) = try PKIFixture.cluster()
        let stranger = try ca.issueNodeCertificate(warehouse: "shop-2", hosts: ["127.0.0.1"], now: PKIFixture.now)
        let files = PKIFiles(directory: directory.path)
        try files.write(ca: ca)
        try files.write(node: node.node)

        try Data(stranger.privateKey.pemRepresentation.utf8).write(to: URL(fileURLWithPath: files.nodeKeyPath))
        #expect(throws: PKIError.keyMismatch(certificate: files.nodeCertificatePath, key: files.nodeKeyPath)) {
            try files.loadNode()
        }
        try Data(stranger.privateKey.pemRepresentation.utf8).write(to: URL(fileURLWithPath: files.caKeyPath))
        #expect(throws: PKIError.keyMismatch(certificate: files.caCertificatePath, key: files.caKeyPath)) {
            try files.loadCA()
        }
        let mismatch = PKIError.keyMismatch(
            certificate: node.node.certificate.subject.description, key: "the given private key")
        #expect(throws: mismatch) {
            try IssuedCertificate(certificate: node.node.certificate, privateKey: stranger.privateKey)
        }
    }

    @Test func errorsDescribeThemselvesOnOneLine() {
        let errors: [PKIError] = [
            .invalidClusterID("a b"), .invalidWarehouse("x y"), .invalidHost("!"), .invalidValidity("0 days"),
            .notACertificateAuthority(subject: "CN=x"), .notIssuedByClusterCA(subject: "CN=x", clusterCA: "CN=y"),
            .keyMismatch(certificate: "/p/node.pem", key: "/p/node-key.pem"), .missingFile(path: "/p/ca.pem"),
            .malformedPEM(path: "/p/ca.pem", reason: "bad"), .fileExists(path: "/p/ca.pem"),
            .fileSystem(path: "/p", operation: "open", errno: 13),
        ]
        for error in errors {
            #expect(!error.description.isEmpty)
            #expect(!error.description.contains("\n"))
        }
        #expect(PKIError.missingFile(path: "/p/ca.pem").description == "missing file /p/ca.pem")
        #expect(
            PKIError.fileSystem(path: "/p", operation: "open", errno: 13).description
                == "open /p failed: Permission denied (errno 13)")
    }
}
