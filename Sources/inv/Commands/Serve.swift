import ArgumentParser
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import Store
import SyncServer

/// `inv serve`: runs the node's HTTPS API until SIGINT or SIGTERM, then drains the write queue and exits.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run this warehouse's node (HTTPS only).")

    @Option(help: "The node's data directory (default: $INV_DATA or ./inv-data).") var data: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: Logger.Level = .info

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "inv.serve")
        let directory = DataDirectory(path: data ?? DataDirectoryOption.defaultPath)
        let config = try directory.loadConfig()
        let credentials: NodeCredentials
        do { credentials = try PKIFiles(directory: directory.tlsDirectory).loadNodeCredentials() } catch {
            throw NodeError.damagedDataDirectory("TLS files in \(directory.tlsDirectory): \(error)")
        }
        let (host, port) = try config.listenAddress()
        let node = try InvNode(directory: directory, logger: logger)
        defer { node.close() }

        let app = try buildApplication(
            node: node, credentials: credentials, host: host, port: port, logger: logger,
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                logger.info("inv node \(config.warehouse) serving", metadata: ["url": "\(config.url)", "port": "\(bound)"])
            })
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // Heartbeats let event streams notice clients that went away.
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(15))
                    node.events.heartbeat()
                }
            }
            if let url = config.webhookURL {
                let events = node.events.subscribe()
                group.addTask { await AlertWebhook(url: url).run(events: events, client: httpClient, warehouse: config.warehouse, logger: logger) }
            }
            do {
                try await app.runService()
            } catch let error as IOError where error.errnoCode == EADDRINUSE {
                throw NodeError.portInUse(config.listen)
            }
            logger.info("shutting down: draining the write queue")
            group.cancelAll()
        }
        node.events.finishAll()
        try await httpClient.shutdown()
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
