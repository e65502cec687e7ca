import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import SwiftASN1
import X509

/// Reads which warehouse is on the other end of a mutual-TLS connection.
enum PeerIdentity {
    /// The warehouse named by the peer's verified certificate, or `nil` when there is none.
    ///
    /// The peer listener requires a certificate signed by the cluster CA during the handshake, so a certificate
    /// seen here is already verified; this only reads its subject.
    static func warehouse(on channel: any Channel) async -> String? {
        let der: [UInt8]?
        do {
            der = try await channel.eventLoop.submit { () throws -> [UInt8]? in
                let handler = try channel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
                return try handler.peerCertificate?.toDERBytes()
            }.get()
        } catch {
            return nil
        }
        guard let der else { return nil }
        do { return ClusterCA.warehouse(of: try Certificate(derEncoded: der)) } catch { return nil }
    }
}

extension PeerIdentity {
    /// Why the warehouse at a URL could not be read from its certificate.
    struct ProbeFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// The warehouse named by the certificate the server at `url` presents, verified as the sync client verifies it
    /// (`tls`: the cluster CA as the only root, the host dialled named by the certificate).
    ///
    /// AsyncHTTPClient verifies the chain and the host but does not show the certificate, and on a machine where
    /// several nodes share a host (or every certificate names `127.0.0.1`) the host proves nothing about which
    /// warehouse answers. So, before a round or a stream, the node makes one TLS handshake of its own to the URL and
    /// reads the subject (`PeerSyncer.checkIdentity`, which reuses a passed check for a few minutes while exchanges
    /// with the peer succeed); the requests then go to the same address. A listener replaced between the handshake and the
    /// round's requests is not caught: the probe closes the confusion of one member's certificate for another's,
    /// not an attacker who takes over a peer's port (that one holds the peer's key anyway, or fails TLS).
    static func warehouse(at url: String, tls: TLSConfiguration, connectTimeout: TimeAmount = .seconds(2)) async throws -> String {
        guard let components = URLComponents(string: url), let host = components.host, let port = components.port else {
            throw ProbeFailure(description: "\(url) is not https://HOST:PORT")
        }
        let address = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        let ipAddress = try? SocketAddress(ipAddress: address, port: port)
        let context = try NIOSSLContext(configuration: tls)
        let group = MultiThreadedEventLoopGroup.singleton
        let handshake = group.next().makePromise(of: Void.self)
        let channel: any Channel
        do {
            let bootstrap = ClientBootstrap(group: group)
                .connectTimeout(connectTimeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: context, serverHostname: ipAddress == nil ? address : nil))
                        try channel.pipeline.syncOperations.addHandler(HandshakeWaiter(promise: handshake))
                    }
                }
            // An IP address is dialled as such, so a refusal reads "Connection refused" as the round's would.
            if let ipAddress {
                channel = try await bootstrap.connect(to: ipAddress).get()
            } else {
                channel = try await bootstrap.connect(host: address, port: port).get()
            }
        } catch {
            handshake.fail(error)
            throw error
        }
        defer { channel.close(promise: nil) }
        // A server that accepts the connection and never answers the handshake must not hold the round for ever.
        let deadline = channel.eventLoop.scheduleTask(in: .seconds(10)) {
            handshake.fail(ProbeFailure(description: "no TLS handshake from \(url) within 10 s"))
        }
        defer { deadline.cancel() }
        try await handshake.futureResult.get()
        let der = try await channel.eventLoop.submit { () throws -> [UInt8]? in
            try channel.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self).peerCertificate?.toDERBytes()
        }.get()
        guard let der, let warehouse = ClusterCA.warehouse(of: try Certificate(derEncoded: der)) else {
            throw ProbeFailure(description: "the certificate at \(url) names no warehouse")
        }
        return warehouse
    }

    /// Completes a promise when the TLS handshake completes (or fails, or the connection closes first).
    private final class HandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny
        let promise: EventLoopPromise<Void>

        init(promise: EventLoopPromise<Void>) { self.promise = promise }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? TLSUserEvent, case .handshakeCompleted = event { promise.succeed(()) }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(ProbeFailure(description: "the connection closed during the TLS handshake"))
            context.fireChannelInactive()
        }
    }
}
