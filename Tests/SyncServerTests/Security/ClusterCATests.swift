import Foundation
import SwiftASN1
import SyncServer
import Testing
@_spi(FixedExpiryValidationTime) import X509

@Suite("Cluster CA: the CA certificate and the node certificates it issues")
struct ClusterCATests {
    @Test func caCertificateIsASelfSignedCAForTenYears() throws {
        let ca = try ClusterCA(clusterID: "eu-west.1", now: PKIFixture.now)
        let certificate = ca.certificate

        #expect(certificate.subject.description == "CN=inv cluster CA eu-west.1,O=inv")
        #expect(certificate.issuer == certificate.subject)
        #expect(certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
        #expect(certificate.signatureAlgorithm == .ecdsaWithSHA256)
        #expect(try certificate.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        #expect(try certificate.extensions.keyUsage == KeyUsage(keyCertSign: true, cRLSign: true))
        #expect(certificate.extensions[oid: .X509ExtensionID.basicConstraints]?.critical == true)
        #expect(certificate.extensions[oid: .X509ExtensionID.keyUsage]?.critical == true)
        #expect(try certificate.extensions.subjectKeyIdentifier != nil)
        #expect(certificate.notValidBefore == PKIFixture.now - ClusterCA.clockSkewAllowance)
        #expect(certificate.notValidAfter == PKIFixture.now + 3650 * 86_400)
        #expect(ClusterCA.warehouse(of: certificate) == nil)
    }

    @Test func restoringACARefusesAForeignKeyAndALeaf() throws {
        let (ca, node) = try PKIFixture.cluster()
        let other = try ClusterCA(clusterID: "other", now: PKIFixture.now)
        #expect(try ClusterCA(certificate: ca.certificate, privateKey: ca.privateKey).certificate == ca.certificate)
        let mismatch = PKIError.keyMismatch(certificate: ca.certificate.subject.description, key: "the CA private key")
        #expect(throws: mismatch) {
            try ClusterCA(certificate: ca.certificate, privateKey: other.privateKey)
        }
        #expect(throws: PKIError.notACertificateAuthority(subject: node.node.certificate.subject.description)) {
            try ClusterCA(certificate: node.node.certificate, privateKey: node.node.privateKey)
        }
    }

    @Test func nodeCertificateVerifiesAgainstTheClusterCAOnly() async throws {
        let (ca, node) = try PKIFixture.cluster(hosts: ["node-a.inv.test"])
        let leaf = node.node.certificate

        var verifier = Verifier(rootCertificates: CertificateStore([ca.certificate])) {
            RFC5280Policy(fixedExpiryValidationTime: PKIFixture.now)
        }
        guard case .validCertificate(let chain) = await verifier.validate(leaf: leaf, intermediates: CertificateStore())
        else {
            Issue.record("the node certificate does not verify against its CA")
            return
        }
        #expect(Array(chain) == [leaf, ca.certificate])

        let stranger = try ClusterCA(clusterID: "stranger", now: PKIFixture.now)
        var strangerVerifier = Verifier(rootCertificates: CertificateStore([stranger.certificate])) {
            RFC5280Policy(fixedExpiryValidationTime: PKIFixture.now)
        }
        guard case .couldNotValidate = await strangerVerifier.validate(leaf: leaf, intermediates: CertificateStore())
        else {
            Issue.record("the node certificate verified against a different CA")
            return
        }

        var expiredVerifier = Verifier(rootCertificates: CertificateStore([ca.certificate])) {
            RFC5280Policy(fixedExpiryValidationTime: PKIFixture.now + 826 * 86_400)
        }
        guard case .couldNotValidate = await expiredVerifier.validate(leaf: leaf, intermediates: CertificateStore())
        else {
            Issue.record("the node certificate verified after it expired")
            return
        }
    }

    @Test func nodeCertificateNamesItsWarehouseHostsAndUsages() throws {
        let (ca, node) = try PKIFixture.cluster(
            warehouse: "shop-1",
            hosts: ["10.0.0.7", "Node-A.inv.test", "::1", "[fe80::2]", "node-a.inv.test", "localhost"])
        let leaf = node.node.certificate

        #expect(leaf.subject.description == "CN=shop-1,OU=warehouse,O=inv")
        #expect(leaf.issuer == ca.certificate.subject)
        #expect(ClusterCA.warehouse(of: leaf) == "shop-1")
        #expect(node.warehouse == "shop-1")

        let names = try #require(try leaf.extensions.subjectAlternativeNames)
        #expect(
            Array(names) == [
                .ipAddress(ASN1OctetString(contentBytes: [10, 0, 0, 7])),
                .dnsName("node-a.inv.test"),
                .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1]))),
                .ipAddress(
                    ASN1OctetString(contentBytes: ArraySlice([0xfe, 0x80] + [UInt8](repeating: 0, count: 13) + [2]))),
                .dnsName("localhost"),
            ])

        let usages = try #require(try leaf.extensions.extendedKeyUsage)
        #expect(usages.contains(.serverAuth))
        #expect(usages.contains(.clientAuth))
        #expect(usages.count == 2)
        #expect(try leaf.extensions.keyUsage == KeyUsage(digitalSignature: true))
        #expect(try leaf.extensions.basicConstraints == .notCertificateAuthority)
        #expect(
            try leaf.extensions.authorityKeyIdentifier?.keyIdentifier
                == ca.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
        #expect(leaf.notValidBefore == PKIFixture.now - ClusterCA.clockSkewAllowance)
        #expect(leaf.notValidAfter == PKIFixture.now + 825 * 86_400)
    }

    @Test func namesOnlyTheHostsAskedForAndDrawsFreshKeysAndSerials() throws {
        let ca = try ClusterCA(clusterID: "c", now: PKIFixture.now)
        let first = try ca.issueNodeCertificate(warehouse: "w1", hosts: ["10.1.2.3"], validityDays: 30, now: PKIFixture.now)
        let second = try ca.issueNodeCertificate(warehouse: "w1", hosts: ["10.1.2.3"], validityDays: 30, now: PKIFixture.now)

        // No 127.0.0.1 or localhost unless asked for: they would let any member's certificate pass for another's.
        let names = try #require(try first.certificate.extensions.subjectAlternativeNames)
        #expect(Array(names) == [.ipAddress(ASN1OctetString(contentBytes: [10, 1, 2, 3]))])
        #expect(throws: PKIError.noHosts) {
            try ca.issueNodeCertificate(warehouse: "w1", hosts: [], validityDays: 30, now: PKIFixture.now)
        }
        #expect(first.certificate.notValidAfter == PKIFixture.now + 30 * 86_400)
        #expect(first.certificate.serialNumber != second.certificate.serialNumber)
        #expect(first.certificate.publicKey != second.certificate.publicKey)
    }

    @Test func warehouseIsReadOnlyFromWarehouseSubjects() throws {
        let key = Certificate.PrivateKey(try ClusterCA(clusterID: "c", now: PKIFixture.now).privateKey)
        func certificate(@DistinguishedNameBuilder _ subject: () throws -> Result<DistinguishedName, any Error>)
            throws -> Certificate
        {
            let name = try DistinguishedName(builder: subject)
            return try Certificate(
                version: .v3, serialNumber: .init(), publicKey: key.publicKey, notValidBefore: PKIFixture.now,
                notValidAfter: PKIFixture.now + 60, issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: Certificate.Extensions(), issuerPrivateKey: key)
        }
        let genuine = try certificate {
            OrganizationName("inv")
            OrganizationalUnitName("warehouse")
            CommonName("shop-9")
        }
        #expect(ClusterCA.warehouse(of: genuine) == "shop-9")
        let noUnit = try certificate {
            OrganizationName("inv")
            CommonName("shop-9")
        }
        #expect(ClusterCA.warehouse(of: noUnit) == nil)
        let otherOrganization = try certificate {
            OrganizationName("acme")
            OrganizationalUnitName("warehouse")
            CommonName("shop-9")
        }
        #expect(ClusterCA.warehouse(of: otherOrganization) == nil)
        let invalidID = try certificate {
            OrganizationName("inv")
            OrganizationalUnitName("warehouse")
            CommonName("shop 9")
        }
        #expect(ClusterCA.warehouse(of: invalidID) == nil)
        let twoNames = try certificate {
            OrganizationName("inv")
            OrganizationalUnitName("warehouse")
            CommonName("shop-9")
            CommonName("shop-10")
        }
        #expect(ClusterCA.warehouse(of: twoNames) == nil)
    }

    @Test func issuingRefusesBadInput() throws {
        let ca = try ClusterCA(clusterID: "c", now: PKIFixture.now)
        #expect(throws: PKIError.invalidClusterID("")) { try ClusterCA(clusterID: "", now: PKIFixture.now) }
        #expect(throws: PKIError.invalidClusterID("a b")) { try ClusterCA(clusterID: "a b", now: PKIFixture.now) }
        let long = String(repeating: "x", count: 49)
        #expect(throws: PKIError.invalidClusterID(long)) { try ClusterCA(clusterID: long, now: PKIFixture.now) }
        #expect(throws: PKIError.invalidWarehouse("shop 1")) {
            try ca.issueNodeCertificate(warehouse: "shop 1", hosts: ["127.0.0.1"], now: PKIFixture.now)
        }
        #expect(throws: PKIError.invalidHost("bad_host!")) {
            try ca.issueNodeCertificate(warehouse: "w", hosts: ["bad_host!"], now: PKIFixture.now)
        }
        #expect(throws: PKIError.invalidHost("fe80::1%eth0")) {
            try ca.issueNodeCertificate(warehouse: "w", hosts: ["fe80::1%eth0"], now: PKIFixture.now)
        }
        #expect(throws: PKIError.invalidHost("")) {
            try ca.issueNodeCertificate(warehouse: "w", hosts: [""], now: PKIFixture.now)
        }
        for (days, now) in [(0, PKIFixture.now), (-1, PKIFixture.now), (3651, PKIFixture.now),
            (30, PKIFixture.now - 3600), (1, PKIFixture.now + 3650 * 86_400)]
        {
            #expect(throws: PKIError.self) {
                try ca.issueNodeCertificate(warehouse: "w", hosts: ["127.0.0.1"], validityDays: days, now: now)
            }
        }
        // The last day of the CA can still be covered exactly.
        let last = try ca.issueNodeCertificate(warehouse: "w", hosts: ["127.0.0.1"], validityDays: 3650, now: PKIFixture.now)
        #expect(last.certificate.notValidAfter == ca.certificate.notValidAfter)
    }

    @Test func nodeCredentialsRefuseACertificateFromAnotherCluster() throws {
        let (_, node) = try PKIFixture.cluster()
        let stranger = try ClusterCA(clusterID: "stranger", now: PKIFixture.now)
        #expect(
            throws: PKIError.notIssuedByClusterCA(
                subject: node.node.certificate.subject.description, clusterCA: stranger.certificate.subject.description)
        ) {
            try NodeCredentials(clusterCA: stranger.certificate, node: node.node)
        }
        #expect(throws: PKIError.notACertificateAuthority(subject: node.node.certificate.subject.description)) {
            try NodeCredentials(clusterCA: node.node.certificate, node: node.node)
        }
    }
}
