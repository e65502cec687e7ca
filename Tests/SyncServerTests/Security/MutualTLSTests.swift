import Crypto
import Foundation
import NIOSSL
import SwiftASN1
@testable import SyncServer
import Testing
import X509

/// Real TLS between Hummingbird 2 (HummingbirdTLS) and AsyncHTTPClient, using the configurations of
/// ``NodeCredentials``. Certificates are issued at the real current time: the TLS stack checks validity against it.
@Suite("Mutual TLS: live HTTPS with the cluster PKI", .timeLimit(.minutes(3)))
struct MutualTLSTests {
    let ca: ClusterCA
    let server: NodeCredentials
    let client: NodeCredentials
    let stranger: NodeCredentials

    init() throws {
        let now = Date()
        ca = try ClusterCA(clusterID: "live", now: now)
        server = try NodeCredentials(
            clusterCA: ca.certificate,
            node: ca.issueNodeCertificate(warehouse: "server-1", hosts: ["node-a.inv.test", "127.0.0.1"], now: now))
        client = try NodeCredentials(
            clusterCA: ca.certificate, node: ca.issueNodeCertificate(warehouse: "client-1", hosts: ["127.0.0.1"], now: now))
        let otherCA = try ClusterCA(clusterID: "stranger", now: now)
        stranger = try NodeCredentials(
            clusterCA: otherCA.certificate,
            node: otherCA.issueNodeCertificate(warehouse: "client-1", hosts: ["node-a.inv.test"], now: now))
    }

    @Test func configurationsAreStrict() {
        for tls in [client.clientTLS(withClientCertificate: false), client.clientTLS(withClientCertificate: true)] {
            #expect(tls.minimumTLSVersion == .tlsv12)
            #expect(tls.certificateVerification == .fullVerification)
            #expect(tls.additionalTrustRoots.isEmpty)
            guard case .certificates(let roots) = tls.trustRoots else {
                Issue.record("client trust roots are not just the cluster CA: \(String(describing: tls.trustRoots))")
                continue
            }
            #expect(roots.count == 1)
        }
        #expect(client.clientTLS(withClientCertificate: false).certificateChain.isEmpty)
        #expect(client.clientTLS(withClientCertificate: true).certificateChain.count == 1)
        #expect(server.serverTLS(requireClientCertificate: true).certificateVerification == .noHostnameVerification)
        #expect(server.serverTLS(requireClientCertificate: false).certificateVerification == .none)
        #expect(server.serverTLS(requireClientCertificate: false).minimumTLSVersion == .tlsv12)
    }

    @Test func clientTrustingTheClusterCAGetsThrough() async throws {
        try await LiveHTTPSServer.run(tls: server.serverTLS(requireClientCertificate: false)) { port, requests in
            let tls = client.clientTLS(withClientCertificate: false)
            // By IP address (matched against the 127.0.0.1 SAN) and by DNS name (the node-a.inv.test SAN).
            for host in ["127.0.0.1", "node-a.inv.test"] {
                let outcome = try await HTTPSProbe.get(host: host, port: port, tls: tls).get()
                #expect(outcome.status == 200)
                #expect(outcome.body == "anonymous")
            }
            #expect(requests.value == 2)
        }
    }

    @Test func clientChecksTheServerName() async throws {
        // The shared server certificate names 127.0.0.1 too, and NIOSSL accepts an IP SAN equal to the connected address
        // whatever name was dialled; to see the name check at work over loopback, this server presents a
        // certificate from the cluster CA that names only node-a.inv.test.
        let serverTLS = try Self.serverTLS(namingOnly: "node-a.inv.test", signedBy: ca, now: Date())
        try await LiveHTTPSServer.run(tls: serverTLS) { port, requests in
            let tls = client.clientTLS(withClientCertificate: false)
            let named = try await HTTPSProbe.get(host: "node-a.inv.test", port: port, tls: tls).get()
            #expect(named.status == 200)
            for host in ["stranger.inv.test", "127.0.0.1"] {
                let outcome = try await HTTPSProbe.get(host: host, port: port, tls: tls)
                let refusal = try #require(outcome.tlsRefusal, "dialling \(host): \(outcome)")
                #expect(refusal.contains("failedToValidateHostname"))
            }
            #expect(requests.value == 1)
        }
    }

    @Test func clientTrustingAnotherCAIsRefused() async throws {
        try await LiveHTTPSServer.run(tls: server.serverTLS(requireClientCertificate: false)) { port, requests in
            for withCertificate in [false, true] {
                let outcome = try await HTTPSProbe.get(
                    port: port, tls: stranger.clientTLS(withClientCertificate: withCertificate))
                let refusal = try #require(outcome.tlsRefusal, "\(outcome)")
                #expect(refusal.contains("CERTIFICATE_VERIFY_FAILED"))
                #expect(outcome.transportFailure == .peerCertificateUntrusted)
            }
            #expect(requests.value == 0)
        }
    }

    @Test func mutualTLSAdmitsOnlyClientsOfTheClusterCA() async throws {
        try await LiveHTTPSServer.run(tls: server.serverTLS(requireClientCertificate: true)) { port, requests in
            // A peer with a certificate from the cluster CA gets through, and the server learns its warehouse.
            let peerTLS = client.clientTLS(withClientCertificate: true)
            let admitted = try await HTTPSProbe.get(port: port, tls: peerTLS).get()
            #expect(admitted.status == 200)
            #expect(admitted.body == "client-1")

            // No client certificate: refused at the handshake.
            let anonymous = try await HTTPSProbe.get(port: port, tls: client.clientTLS(withClientCertificate: false))
            let anonymousRefusal = try #require(anonymous.tlsRefusal, "\(anonymous)")
            #expect(anonymousRefusal.contains("CERTIFICATE_REQUIRED"))
            #expect(anonymous.transportFailure == .ourCertificateRefused)

            // A certificate (same warehouse name) from another CA, while trusting our server: refused.
            var impostorTLS = client.clientTLS(withClientCertificate: false)
            let strangerIdentity = stranger.clientTLS(withClientCertificate: true)
            impostorTLS.certificateChain = strangerIdentity.certificateChain
            impostorTLS.privateKey = strangerIdentity.privateKey
            let impostor = try await HTTPSProbe.get(port: port, tls: impostorTLS)
            let impostorRefusal = try #require(impostor.tlsRefusal, "\(impostor)")
            #expect(impostorRefusal.contains("UNKNOWN_CA"))
            #expect(impostor.transportFailure == .ourCertificateRefused)

            // A certificate from the cluster CA that is only good for serving (no clientAuth): refused too.
            var serverOnlyTLS = client.clientTLS(withClientCertificate: false)
            let serverOnlyIdentity = try Self.serverTLS(namingOnly: "node-b.inv.test", signedBy: ca, now: Date())
            serverOnlyTLS.certificateChain = serverOnlyIdentity.certificateChain
            serverOnlyTLS.privateKey = serverOnlyIdentity.privateKey
            let serverOnly = try await HTTPSProbe.get(port: port, tls: serverOnlyTLS)
            #expect(serverOnly.tlsRefusal != nil, "\(serverOnly)")

            #expect(requests.value == 1)
        }
    }

    @Test("a port nobody listens on is a refused connection, told by the error's type")
    func refusedConnection() async throws {
        // Bound and closed again: nothing listens there (nothing else on this machine takes a port from the
        // ephemeral range between these two lines but by chance, and then the probe fails another way).
        let port = try await LiveHTTPSServer.freePort()
        let outcome = try await HTTPSProbe.get(port: port, tls: client.clientTLS(withClientCertificate: false))
        #expect(outcome.transportFailure == .refused, "\(outcome)")
        #expect(outcome.failureLine == "unreachable (connection refused)")
    }

    @Test func withoutTheRequirementNoClientCertificateIsRequested() async throws {
        try await LiveHTTPSServer.run(tls: server.serverTLS(requireClientCertificate: false)) { port, _ in
            // The client has a certificate to offer, but the server never asks for one.
            let outcome = try await HTTPSProbe.get(port: port, tls: client.clientTLS(withClientCertificate: true)).get()
            #expect(outcome.status == 200)
            #expect(outcome.body == "anonymous")
        }
    }

    /// A server configuration presenting a certificate from `ca` whose only subject alternative name is `dnsName`
    /// (which ``ClusterCA/issueNodeCertificate(warehouse:hosts:validityDays:now:)`` would never issue).
    static func serverTLS(namingOnly dnsName: String, signedBy ca: ClusterCA, now: Date) throws -> TLSConfiguration {
        let key = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(key.publicKey)
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: publicKey, notValidBefore: now - 60,
            notValidAfter: now + 3600, issuer: ca.certificate.subject,
            subject: try DistinguishedName {
                OrganizationName("inv")
                OrganizationalUnitName("warehouse")
                CommonName("server-2")
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([.dnsName(dnsName)])
            },
            issuerPrivateKey: Certificate.PrivateKey(ca.privateKey))
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: serializer.serializedBytes, format: .der))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.derRepresentation), format: .der)))
        tls.minimumTLSVersion = .tlsv12
        return tls
    }
}
