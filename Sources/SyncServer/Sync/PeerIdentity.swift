import Foundation
import NIOCore
import NIOSSL
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
