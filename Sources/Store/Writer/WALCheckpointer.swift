import Foundation
import GRDB
import Logging

/// Copies the write-ahead log back into the database file on its own thread and connection, so the writer never
/// does it inside a commit.
///
/// SQLite's automatic checkpoint runs in whichever connection commits the transaction that crosses the threshold:
/// for the node, that is the single writer, which then holds every waiting write for the copy and its fsyncs (the
/// worst latencies under load). The node's writer has automatic checkpoints turned off, and this thread runs a
/// PASSIVE checkpoint every `interval` while the log is busy (at least `busyFrames` frames when last copied), and
/// every `quietInterval` otherwise: it never blocks the writer or readers, copies what no reader still needs, and
/// lets the writer restart the log from its beginning once all of it is copied, so the log stays small. Each
/// checkpoint syncs the log and the database file: on a node that only trickles (a few writes a second, a page
/// per peer's commit) checkpoints every 200 ms were most of its fsyncs.
/// With no commit since a checkpoint that copied the whole log, it skips its turn: an idle node checkpoints nothing.
/// A checkpoint moves committed pages only; durability of a commit is the writer's fsync, untouched by this.
final class WALCheckpointer: Sendable {
    private let path: String
    private let durable: Bool
    private let interval: Double
    private let quietInterval: Double
    private let busyFrames: Int
    private let commitCount: @Sendable () -> UInt64
    private let logger: Logger
    private let stopSignal = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// - Parameter commitCount: the writer's ``LedgerWriter/commitCount``.
    init(
        path: String, durable: Bool, interval: Double = 0.2, quietInterval: Double = 1, busyFrames: Int = 1_000,
        commitCount: @escaping @Sendable () -> UInt64, logger: Logger
    ) {
        self.commitCount = commitCount
        self.path = path
        self.durable = durable
        self.interval = interval
        self.quietInterval = quietInterval
        self.busyFrames = busyFrames
        self.logger = logger
    }

    func start() throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        let durable = durable
        configuration.prepareDatabase { db in
            // Under FULL a checkpoint syncs the log before copying and the database file after.
            try NodeStore.setDurability(durable, in: db)
        }
        let connection = try DatabaseQueue(path: path, configuration: configuration)
        let thread = Thread { [self] in
            var wait = interval
            // The commit count when the last checkpoint copied the whole log.
            var copiedAllAt: UInt64?
            while stopSignal.wait(timeout: .now() + wait) == .timedOut {
                let commits = commitCount()
                if commits == copiedAllAt {
                    wait = quietInterval
                    continue
                }
                do {
                    let result = try connection.writeWithoutTransaction { db in try db.checkpoint(.passive) }
                    wait = result.walFrameCount >= busyFrames ? interval : quietInterval
                    copiedAllAt = result.checkpointedFrameCount >= result.walFrameCount ? commits : nil
                } catch {
                    wait = interval
                    copiedAllAt = nil
                    logger.warning("background checkpoint failed (the next one retries): \(error)")
                }
            }
            finished.signal()
        }
        thread.name = "inv-checkpointer"
        thread.start()
    }

    /// Stops the thread after its current checkpoint. Call once.
    func stop() {
        stopSignal.signal()
        finished.wait()
    }
}
