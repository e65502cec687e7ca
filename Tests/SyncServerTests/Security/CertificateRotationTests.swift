import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS
import SwiftASN1
import SyncServer
import Testing
import X509

/// Certificate rotation on live TLS listeners: after a reload, a new connection sees the new certificate, verified
/// against the cluster CA; mutual TLS between peers keeps working with rotated certificates on both sides.
@Suite("Certificate rotation: live TLS", .timeLimit(.minutes(3)))
struct CertificateRotationTests {
    /// Opens a TLS connection with `tls` (full verification against its trust roots), and returns the certificate
    /// the server presented once the handshake completed; throws if it failed.
    static func servedCertificate(port: Int, tls: TLSConfiguration) async throws -> Certificate {
        let context = try NIOSSLContext(configuration: tls)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: nil))
                    try channel.pipeline.syncOperations.addHandler(HandshakeWaiter(promise: channel.eventLoop.makePromise()))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        defer { channel.close(promise: nil) }
        let waiter = try await channel.pipeline.handler(type: HandshakeWaiter.self).get()
        try await waiter.promise.futureResult.get()
        let peer = try #require(try await channel.nioSSL_peerCertificate().get())
        return try Certificate(derEncoded: peer.toDERBytes())
    }

    /// Completes its promise when the TLS handshake completes, fails it on an error or an early close.
    final class HandshakeWaiter: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<Void>
        init(promise: EventLoopPromise<Void>) { self.promise = promise }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case TLSUserEvent.handshakeCompleted = event { promise.succeed(()) }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(ChannelError.alreadyClosed)
            context.fireChannelInactive()
        }
    }

    @Test func aNewConnectionSeesTheRotatedCertificateOfTheNodeAPI() async throws {
        try await NodeFixture.with { fixture in
            let files = PKIFiles(directory: fixture.directory.tlsDirectory)
            let credentials = ReloadableCredentials(try files.loadNodeCredentials())
            let original = credentials.initial.node.certificate
            // A client that trusts only the cluster CA and checks the host (127.0.0.1): as `inv` does.
            let verifying = credentials.initial.clientTLS(withClientCertificate: false)
            try await LiveNodeServer.run(fixture, credentials: credentials) { base, client in
                let port = try #require(URL(string: base)?.port)
                #expect(try await Self.servedCertificate(port: port, tls: verifying) == original)

                // X.509 times are whole seconds: make sure the renewal's not_before differs.
                try await Task.sleep(for: .milliseconds(1_100))
                let outcome = try CertificateRenewal.renew(directory: fixture.directory)
                #expect(outcome.previous?.serial == CertificateSummary(original).serial)
                #expect(outcome.droppedHosts.isEmpty)
                // Files replaced, not yet served.
                #expect(try await Self.servedCertificate(port: port, tls: verifying) == original)

                var request = HTTPClientRequest(url: base + "/v1/certificate/reload")
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(fixture.admin)")
                let response = try await client.execute(request, deadline: .now() + .seconds(10))
                let body = String(buffer: try await response.body.collect(upTo: 1 << 16))
                #expect(response.status == .ok, "\(body)")
                #expect(body.contains(#""serial":"\#(outcome.current.serial)""#), "\(body)")

                let served = try await Self.servedCertificate(port: port, tls: verifying)
                #expect(served != original)
                #expect(CertificateSummary(served).serial == outcome.current.serial)
                #expect(served.serialNumber != original.serialNumber)
                #expect(served.notValidBefore > original.notValidBefore)
                #expect(ClusterCA.warehouse(of: served) == "MAD")
                #expect(served.publicKey != original.publicKey, "a rotation brings a new key")

                // The status reports what new connections get.
                var status = HTTPClientRequest(url: base + "/v1/status")
                status.headers.add(name: "Authorization", value: "Bearer \(fixture.reporter)")
                let statusBody = String(buffer: try await client.execute(status, deadline: .now() + .seconds(10)).body.collect(upTo: 1 << 16))
                #expect(statusBody.contains(#""serial":"\#(outcome.current.serial)""#), "\(statusBody)")
                #expect(statusBody.contains(#""reloads":1"#), "\(statusBody)")
            }
        }
    }

    @Test func peersStillConnectOverMutualTLSAfterBothSidesRotate() async throws {
        let now = Date()
        let ca = try ClusterCA(clusterID: "rotation", now: now)
        let server = ReloadableCredentials(try NodeCredentials(
            clusterCA: ca.certificate, node: ca.issueNodeCertificate(warehouse: "MAD", hosts: ["127.0.0.1"], now: now)))
        let client = ReloadableCredentials(try NodeCredentials(
            clusterCA: ca.certificate, node: ca.issueNodeCertificate(warehouse: "SEV", hosts: ["127.0.0.1"], now: now)))
        try await LiveHTTPSServer.run(tls: server.serverTLS(requireClientCertificate: true)) { port, _ in
            let before = try await HTTPSProbe.get(port: port, path: "/serial", tls: client.clientTLS()).get()
            #expect(before.body == CertificateSummary(client.initial.node.certificate).serial)

            let later = now + 2
            try server.replace(with: NodeCredentials(
                clusterCA: ca.certificate, node: ca.issueNodeCertificate(warehouse: "MAD", hosts: ["127.0.0.1"], now: later)))
            try client.replace(with: NodeCredentials(
                clusterCA: ca.certificate, node: ca.issueNodeCertificate(warehouse: "SEV", hosts: ["127.0.0.1"], now: later)))

            // The server verified the client's new certificate, and presents its own new one.
            let after = try await HTTPSProbe.get(port: port, path: "/serial", tls: client.clientTLS()).get()
            #expect(after.status == 200)
            #expect(after.body == CertificateSummary(client.current.node.certificate).serial)
            #expect(after.body != before.body)
            #expect(try await HTTPSProbe.get(port: port, tls: client.clientTLS()).get().body == "SEV")
            let served = try await Self.servedCertificate(port: port, tls: client.clientTLS())
            #expect(served == server.current.node.certificate)

            // Mutual TLS is still required: a client without a certificate is refused at the handshake.
            let anonymous = try await HTTPSProbe.get(port: port, tls: client.initial.clientTLS(withClientCertificate: false))
            #expect(anonymous.tlsRefusal != nil, "\(anonymous)")
        }
    }

    @Test func aReplacementFromAnotherClusterOrWarehouseIsRefused() throws {
        let now = Date()
        let ca = try ClusterCA(clusterID: "rotation", now: now)
        let credentials = ReloadableCredentials(try NodeCredentials(
            clusterCA: ca.certificate, node: ca.issueNodeCertificate(warehouse: "MAD", hosts: ["127.0.0.1"], now: now)))
        let other = try ClusterCA(clusterID: "other", now: now)
        #expect(throws: PKIError.self) {
            try credentials.replace(with: NodeCredentials(
                clusterCA: other.certificate, node: other.issueNodeCertificate(warehouse: "MAD", hosts: ["127.0.0.1"], now: now)))
        }
        #expect(throws: PKIError.invalidWarehouse("BIO")) {
            try credentials.replace(with: NodeCredentials(
                clusterCA: ca.certificate, node: ca.issueNodeCertificate(warehouse: "BIO", hosts: ["127.0.0.1"], now: now)))
        }
        #expect(credentials.generation == 0)
        #expect(credentials.current.node.certificate == credentials.initial.node.certificate)
    }

    @Test func replacingTheFilesKeepsAWholePairAndRecoversAnInterruptedReplace() throws {
        let directory = try PKITemporaryDirectory()
        defer { directory.cleanup() }
        let (ca, node) = try PKIFixture.cluster()
        let files = PKIFiles(directory: directory.path)
        try files.write(ca: ca)
        try files.write(node: node.node)
        let renewed = try ca.issueNodeCertificate(warehouse: "shop-1", hosts: ["127.0.0.1"], now: PKIFixture.now + 60)
        try files.replace(node: renewed)
        #expect(try files.loadNode().certificate == renewed.certificate)
        #expect(try PKITemporaryDirectory.mode(files.nodeKeyPath) & 0o777 == 0o600)
        #expect(try PKITemporaryDirectory.mode(files.nodeCertificatePath) & 0o777 == 0o644)
        #expect(!FileManager.default.fileExists(atPath: files.nodeCertificatePath + ".new"))

        // A crash between the two renames: the new key is in place, the new certificate still staged.
        let third = try ca.issueNodeCertificate(warehouse: "shop-1", hosts: ["127.0.0.1"], now: PKIFixture.now + 120)
        try Data(third.privateKey.pemRepresentation.utf8).write(to: URL(fileURLWithPath: files.nodeKeyPath))
        try Data(try third.certificate.serializeAsPEM().pemString.utf8).write(to: URL(fileURLWithPath: files.nodeCertificatePath + ".new"))
        #expect(try files.loadNode().certificate == third.certificate)
    }
}
