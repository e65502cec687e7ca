import Foundation
import NIOCore
import NIOPosix

/// Checks, before a node starts anything, that every address it will listen on is free.
///
/// The API and the peer listener start together; when only the peer port was taken, the API had already announced
/// itself and HummingbirdCore logged the failure before the node's own one-line error. Binding each address first
/// (as the servers will: with `SO_REUSEADDR`) and releasing it turns a busy port into that one line alone.
enum ListenPreflight {
    /// Binds and releases each address with a fixed port (port 0 is always free).
    ///
    /// - Parameter description: how the error names the addresses, e.g. `127.0.0.1:8443 (or its peer port)`.
    /// - Throws: `NodeError.portInUse(description)` when one is already in use. Other bind failures are left to the
    ///   servers themselves, which report them as before.
    static func check(_ addresses: [(host: String, port: Int)], description: String) async throws {
        for (host, port) in addresses where port != 0 {
            let channel: any Channel
            do {
                channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                    .bind(host: host, port: port).get()
            } catch let error as IOError where error.errnoCode == EADDRINUSE {
                throw NodeError.portInUse(description)
            } catch {
                continue
            }
            try await channel.close()
        }
    }
}
