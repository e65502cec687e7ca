import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Store
import UnixSignals

/// Runs a node: the HTTPS API, the mutual-TLS peer listener, peer sync, event heartbeats and the alert webhook,
/// until SIGINT or SIGTERM; then stops taking requests, drains the write queue and returns. SIGHUP (like
/// `POST /v1/certificate/reload`) reloads the node certificate from the data directory for new connections.
///
/// `inv serve` and the benchmarks call this one function.
public enum NodeServer {
    public static func run(directory: DataDirectory, logger: Logger) async throws {
        let config = try directory.loadConfig()
        let credentials: ReloadableCredentials
        do { credentials = ReloadableCredentials(try PKIFiles(directory: directory.tlsDirectory).loadNodeCredentials()) } catch {
            throw NodeError.damagedDataDirectory("TLS files in \(directory.tlsDirectory): \(error)")
        }
        let (host, port) = try config.listenAddress()
        let (peerHost, peerPort) = try config.peerListenAddress()
        let node = try InvNode(directory: directory, logger: logger)
        defer { node.close() }
        // Both ports first: a busy peer port must not follow "serving" on the API port (one line, as for the API).
        try await ListenPreflight.check([(host, port), (peerHost, peerPort)], description: "\(config.listen) (or its peer port)")
        let syncer = PeerSyncer(node: node, credentials: credentials, logger: logger)
        let app = try buildApplication(
            node: node, credentials: credentials, host: host, port: port, syncer: syncer, logger: logger,
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                logger.info("inv node \(config.warehouse) serving", metadata: ["url": "\(config.url)", "port": "\(bound)"])
            })
        let peerApp = try buildPeerApplication(
            node: node, syncer: syncer, credentials: credentials, host: peerHost, port: peerPort, logger: logger,
            onServerRunning: { channel in
                logger.info("peer sync listening (mutual TLS)", metadata: ["port": "\(channel.localAddress?.port ?? peerPort)"])
            })
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await serve(
                app: app, peerApp: peerApp, syncer: syncer, node: node, credentials: credentials, config: config,
                httpClient: httpClient, logger: logger)
        } catch {
            // An HTTPClient dropped without `shutdown()` traps: shut it down on the failure path too (e.g. port in use).
            node.events.finishAll()
            do { try await httpClient.shutdown() } catch { /* the original error matters more */ }
            throw error
        }
        node.events.finishAll()
        try await httpClient.shutdown()
    }

    private static func serve(
        app: some ApplicationProtocol, peerApp: some ApplicationProtocol, syncer: PeerSyncer, node: InvNode,
        credentials: ReloadableCredentials, config: NodeConfig, httpClient: HTTPClient, logger: Logger
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // `kill -HUP` reloads the node certificate, as operators expect of a server after renewing one.
                for await _ in await UnixSignalsSequence(trapping: .sighup) {
                    reloadCertificate(credentials, directory: node.directory, logger: logger)
                }
            }
            group.addTask {
                // Heartbeats let event streams notice clients that went away.
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(15))
                    node.events.heartbeat()
                }
            }
            if let url = config.webhookURL {
                // The webhook posts alerts only.
                let events = node.events.subscribe(mergedOperations: false) { (event: StoreEvent) -> Bool in
                    switch event {
                    case .alertRaised, .alertCleared: return true
                    case .operation: return false
                    }
                }
                group.addTask { await AlertWebhook(url: url).run(events: events, client: httpClient, warehouse: config.warehouse, logger: logger) }
            }
            do {
                try await syncer.start()
                // Services shut down last-first: event streams end before the servers wait for open responses.
                let services = ServiceGroup(configuration: .init(
                    services: [app, peerApp, EventStreamCloser(hub: node.events), PeerStreamCloser(syncer: syncer)],
                    gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: logger))
                try await services.run()
            } catch let error as IOError where error.errnoCode == EADDRINUSE {
                await syncer.shutdown()
                throw NodeError.portInUse("\(config.listen) (or its peer port)")
            } catch {
                await syncer.shutdown()
                throw error
            }
            logger.info("shutting down: draining the write queue")
            await syncer.shutdown()
            group.cancelAll()
        }
    }
}

extension NodeServer {
    /// Reloads the node certificate from `directory` for new connections, logging the outcome; on failure the
    /// node keeps serving the certificate it has.
    static func reloadCertificate(_ credentials: ReloadableCredentials, directory: DataDirectory, logger: Logger) {
        do {
            let summary = CertificateSummary(try credentials.reload(from: PKIFiles(directory: directory.tlsDirectory)).node.certificate)
            logger.notice(
                "node certificate reloaded", metadata: ["serial": "\(summary.serial)", "not_after": "\(summary.notAfter)"])
        } catch {
            logger.error("node certificate not reloaded; still serving the previous one: \(error)")
        }
    }
}

/// Ends every live event stream when graceful shutdown begins: an open `/v1/events` response would otherwise keep
/// the HTTP server waiting for it forever.
struct EventStreamCloser: Service {
    let hub: EventHub

    func run() async throws {
        do { try await gracefulShutdown() } catch { /* cancelled: shutting down all the same */ }
        hub.finishAll()
    }
}

/// Ends every live peer stream this node serves when graceful shutdown begins, for the same reason.
struct PeerStreamCloser: Service {
    let syncer: PeerSyncer

    func run() async throws {
        do { try await gracefulShutdown() } catch { /* cancelled: shutting down all the same */ }
        syncer.closeStreamsForShutdown()
    }
}
