import ArgumentParser
import Logging
import SyncServer

/// `inv serve`: runs the node (HTTPS API and peer sync) until SIGINT or SIGTERM, then drains the write queue.
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
        try await NodeServer.run(directory: DataDirectory(path: data ?? DataDirectoryOption.defaultPath), logger: Logger(label: "inv.serve"))
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
