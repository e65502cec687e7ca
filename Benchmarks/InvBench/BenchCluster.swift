import AsyncHTTPClient
import Foundation
import NIOSSL
import SyncServer

/// Two nodes of one cluster on loopback, for the benchmarks that run real node processes: A creates the cluster
/// and B joins it with a bundle issued by A, as `inv init --join` does; each has its own API and peer port.
///
/// Only the data directories are made here; ``NodeProcess`` runs them.
struct BenchCluster {
    var a: NodeSetup.Created
    var b: NodeSetup.Created

    /// Creates `scratch/A` and `scratch/B`.
    ///
    /// - Parameter antiEntropySeconds: both nodes' interval between background rounds. The benchmarks set it high
    ///   so that what they measure (a catch-up, a real-time push) is not helped along by a background round.
    static func create(in scratch: String, antiEntropySeconds: Double) async throws -> BenchCluster {
        let (apiA, peerA, apiB, peerB) = (try LoopbackPorts.free(), try LoopbackPorts.free(), try LoopbackPorts.free(), try LoopbackPorts.free())
        let directoryA = DataDirectory(path: scratch + "/A")
        var a = try await NodeSetup.create(directory: directoryA, warehouse: "A", listen: "127.0.0.1:\(apiA)")
        a.config.peerListen = "127.0.0.1:\(peerA)"
        a.config.antiEntropySeconds = antiEntropySeconds
        try directoryA.saveConfig(a.config)

        let bundle = try JoinBundle.issue(warehouse: "B", hosts: [], directory: directoryA, config: a.config)
        let directoryB = DataDirectory(path: scratch + "/B")
        var b = try await NodeSetup.create(directory: directoryB, warehouse: "B", listen: "127.0.0.1:\(apiB)", join: bundle)
        b.config.peerListen = "127.0.0.1:\(peerB)"
        b.config.antiEntropySeconds = antiEntropySeconds
        try directoryB.saveConfig(b.config)
        return BenchCluster(a: a, b: b)
    }

    /// An HTTPS client that verifies the nodes' certificates against the cluster CA (and trusts nothing else).
    func makeClient() throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(PKIFiles(directory: a.directory.tlsDirectory).caCertificatePath))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    }
}
