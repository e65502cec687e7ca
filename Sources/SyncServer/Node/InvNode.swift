import CRDT
import Foundation
import Logging
import Store

/// One warehouse node: its configuration, store, event hub and tokens. `inv serve` and the tests build the HTTP
/// application around it.
public final class InvNode: Sendable {
    public static let version = "0.1.0"

    public let directory: DataDirectory
    public let config: NodeConfig
    public let store: NodeStore
    public let events: EventHub
    public let tokens: TokenAuthority
    public let logger: Logger

    /// Opens the node in `directory`.
    ///
    /// - Throws: `NodeError` with a one-line reason for a missing or damaged directory or a bad config.
    public init(directory: DataDirectory, logger: Logger = Logger(label: "inv.node")) throws {
        self.directory = directory
        config = try directory.loadConfig()
        guard FileManager.default.fileExists(atPath: directory.databaseFile) else {
            throw NodeError.damagedDataDirectory("\(directory.databaseFile) is missing")
        }
        let hub = EventHub()
        events = hub
        self.logger = logger
        var options = NodeStore.Options(ipcEndpoint: directory.writerEndpoint)
        options.writer.maxClockOffsetMilliseconds = config.maxClockOffsetMilliseconds
        do {
            store = try NodeStore(
                path: directory.databaseFile, replica: try config.replicaID(), options: options, logger: logger,
                onCommit: { hub.publish($0) })
        } catch let error as NodeError {
            throw error
        } catch {
            throw NodeError.damagedDataDirectory("cannot open \(directory.databaseFile): \(error)")
        }
        do {
            tokens = try TokenAuthority(store: store)
        } catch {
            store.close()
            throw NodeError.damagedDataDirectory("cannot read tokens: \(error)")
        }
    }

    /// Drains the write queue and closes the store. Idempotent.
    public func close() {
        events.finishAll()
        store.close()
    }

    public static func nowMilliseconds() -> Int64 { Int64(SystemClock().nowMilliseconds()) }
}
