import CRDT
// swift-crypto 3.12 does not yet mark its keys Sendable; they are immutable.
@preconcurrency import Crypto
import Foundation
import Logging
import Store
import X509

/// One warehouse node: its configuration, store, event hub and tokens. `inv serve` and the tests build the HTTP
/// application around it.
public final class InvNode: Sendable {
    public static let version = "0.1.0"

    public let directory: DataDirectory
    public let config: NodeConfig
    public let store: NodeStore
    public let events: EventHub
    public let tokens: TokenAuthority
    /// This node's own metrics registry: the store, peer sync and the API record into it.
    public let metrics: NodeMetrics
    public let logger: Logger
    private let lock: DirectoryLock

    /// Opens the node in `directory`.
    ///
    /// - Parameter metrics: the registry to record into; by default a new one, so nodes in one process never mix.
    /// - Throws: `NodeError` with a one-line reason for a missing or damaged directory or a bad config.
    public init(directory: DataDirectory, metrics: NodeMetrics = NodeMetrics(), logger: Logger = Logger(label: "inv.node")) throws {
        self.directory = directory
        self.metrics = metrics
        config = try directory.loadConfig()
        guard FileManager.default.fileExists(atPath: directory.databaseFile) else {
            throw NodeError.damagedDataDirectory("\(directory.databaseFile) is missing")
        }
        // One process per data directory: a second `inv serve` (or a restore) must not write beside a live node.
        guard let lock = try DirectoryLock(directory) else {
            throw NodeError.other("another inv process is serving \(directory.path)")
        }
        self.lock = lock
        let hub = EventHub()
        events = hub
        self.logger = logger
        // Unix socket paths are limited to 107 bytes: a deeper data directory serves without the ipc endpoint.
        let endpoint = directory.writerEndpoint
        var options = NodeStore.Options(ipcEndpoint: endpoint.utf8.count <= 100 ? endpoint : nil)
        options.writer.maxClockOffsetMilliseconds = config.maxClockOffsetMilliseconds
        options.metricsFactory = metrics.factory
        // This node signs its chain heads with its node key; checkpoints are checked against the cluster CA's key.
        let pki = PKIFiles(directory: directory.tlsDirectory)
        options.writer.signingKey = try? pki.loadNode().privateKey
        options.writer.clusterKey = (try? pki.loadCACertificate()).flatMap { P256.Signing.PublicKey($0.publicKey) }
        options.writer.reportsStock = { hub.reportsStock }
        do {
            store = try NodeStore(
                path: directory.databaseFile, replica: try config.replicaID(), options: options, logger: logger,
                onCommit: { hub.publish($0) })
        } catch {
            lock.release()
            throw NodeError.damagedDataDirectory("cannot open \(directory.databaseFile): \(error)")
        }
        do {
            let throttling = AuthThrottle.Policy(limit: max(1, config.failedTokenChecksPerMinute ?? AuthThrottle.Policy().limit))
            tokens = try TokenAuthority(store: store, throttling: throttling)
        } catch {
            store.close()
            lock.release()
            throw NodeError.damagedDataDirectory("cannot read tokens: \(error)")
        }
    }

    /// Drains the write queue and closes the store. Idempotent.
    public func close() {
        events.finishAll()
        store.close()
        lock.release()
    }

    public static func nowMilliseconds() -> Int64 { Int64(SystemClock().nowMilliseconds()) }
}
