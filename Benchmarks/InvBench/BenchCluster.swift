import AsyncHTTPClient
import Foundation
import NIOSSL
import SyncServer

/// Nodes of one cluster on loopback, for the benchmarks that run real node processes: the first creates the cluster
/// and every other joins it with a bundle issued by the first, as `inv cert issue` and `inv init --join` do; each has
/// its own API and peer port.
///
/// Only the data directories are made here; ``NodeProcess`` runs them.
struct BenchCluster {
    /// The founding node first, then the others in the order they joined.
    var nodes: [NodeSetup.Created]

    /// The founding node (the one holding the cluster CA key).
    var a: NodeSetup.Created { nodes[0] }
    /// The first node to join.
    var b: NodeSetup.Created { nodes[1] }

    /// Two nodes, `scratch/A` (founding) and `scratch/B`.
    ///
    /// - Parameter antiEntropySeconds: both nodes' interval between background rounds. The benchmarks set it high
    ///   so that what they measure (a catch-up, a real-time push) is not helped along by a background round.
    static func create(in scratch: String, antiEntropySeconds: Double) async throws -> BenchCluster {
        try await create(warehouses: ["A", "B"], in: scratch, antiEntropySeconds: antiEntropySeconds)
    }

    /// One node per warehouse, each in `scratch/WAREHOUSE`: the first founds the cluster, the others join it with a
    /// bundle the first issues for them. A joined node knows only the founding node at first; it learns of the others
    /// as the nodes sync (hellos announce their sender's URL, and members pass on the addresses they know).
    ///
    /// - Parameters:
    ///   - warehouses: at least two distinct warehouse ids.
    ///   - antiEntropySeconds: every node's interval between background rounds; nil leaves the default a user gets.
    static func create(warehouses: [String], in scratch: String, antiEntropySeconds: Double?) async throws -> BenchCluster {
        precondition(warehouses.count >= 2, "a cluster of the benchmarks has at least two nodes")
        var ports = LoopbackPortSet()
        let founding = DataDirectory(path: scratch + "/" + warehouses[0])
        var first = try await NodeSetup.create(directory: founding, warehouse: warehouses[0], listen: "127.0.0.1:\(try ports.next())")
        first.config.peerListen = "127.0.0.1:\(try ports.next())"
        first.config.antiEntropySeconds = antiEntropySeconds
        try founding.saveConfig(first.config)

        var nodes = [first]
        for warehouse in warehouses.dropFirst() {
            let bundle = try JoinBundle.issue(warehouse: warehouse, hosts: [], directory: founding, config: first.config)
            let directory = DataDirectory(path: scratch + "/" + warehouse)
            var node = try await NodeSetup.create(
                directory: directory, warehouse: warehouse, listen: "127.0.0.1:\(try ports.next())", join: bundle)
            node.config.peerListen = "127.0.0.1:\(try ports.next())"
            node.config.antiEntropySeconds = antiEntropySeconds
            try directory.saveConfig(node.config)
            nodes.append(node)
        }
        return BenchCluster(nodes: nodes)
    }

    /// An HTTPS client that verifies the nodes' certificates against the cluster CA (and trusts nothing else).
    func makeClient() throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(PKIFiles(directory: a.directory.tlsDirectory).caCertificatePath))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    }
}

/// Free loopback ports, none handed out twice: ``LoopbackPorts/free()`` asks the kernel for any free port, and the
/// kernel may offer a port again once its probe socket is closed.
struct LoopbackPortSet {
    private var given: Set<Int> = []

    mutating func next() throws -> Int {
        for _ in 0..<100 {
            let port = try LoopbackPorts.free()
            if given.insert(port).inserted { return port }
        }
        throw BenchError("no free port on 127.0.0.1 that was not already taken by this benchmark")
    }
}
