import CoreMetrics
import CRDT
import Foundation
import GRDB
import Logging
import Synchronization

/// A node's store: its SQLite database, the ZMQ-fed single writer, a write-queue client and the reader.
///
/// Open one per data directory. Every mutation goes through ``submit(_:)`` (the ZMQ queue, then the writer);
/// reads go through ``reader`` and never wait on the writer.
public final class NodeStore: Sendable {
    public struct Options: Sendable {
        /// Also bind an `ipc://` endpoint so other local processes can submit writes.
        public var ipcEndpoint: String?
        public var writer = LedgerWriter.Configuration()
        /// `FULL` makes every commit durable against power loss; `NORMAL` only against process crashes.
        public var durable = true
        /// Where the writer and the write-queue client record their metrics (``WriterMetrics``); records nothing
        /// by default. Pass each node's own factory: never bootstrap a global one.
        public var metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance

        public init(ipcEndpoint: String? = nil) { self.ipcEndpoint = ipcEndpoint }
    }

    public let replica: ReplicaID
    public let reader: LedgerReader
    public let pool: DatabasePool
    public let writer: LedgerWriter
    private let context: ZMQContext
    private let client: InProcessWriteClient
    private let checkpointer: WALCheckpointer
    private let closed = Mutex(false)
    /// The `inproc://` endpoint of this store's writer (valid within this process's ZMQ context).
    public let inprocEndpoint: String

    /// Opens (creating if needed) the database at `path` for replica `replica`, migrates it and starts the writer.
    ///
    /// - Throws: `StoreError.invalidInput` if the database belongs to another replica; SQLite or ZMQ errors.
    public init(
        path: String, replica: ReplicaID, clock: some PhysicalClock = SystemClock(), options: Options = .init(),
        logger: Logger = Logger(label: "inv.store"), onCommit: @escaping @Sendable (CommittedEvents) -> Void = { _ in }
    ) throws {
        pool = try Self.openPool(path: path, durable: options.durable)
        try StoreMigrator.migrator.migrate(pool)
        try pool.write { db in
            if let existing = try NodeRecord.load(db) {
                guard existing.replica == replica else {
                    throw StoreError.invalidInput("database \(path) belongs to warehouse \(existing.replica), not \(replica)")
                }
            } else {
                try NodeRecord.create(replica: replica, in: db)
            }
        }
        self.replica = replica
        reader = LedgerReader(pool: pool)
        // The writer's commits never checkpoint: a background thread does (see ``WALCheckpointer``).
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_autocheckpoint = 0") }
        context = try ZMQContext()
        inprocEndpoint = "inproc://inv-writer-\(replica.rawValue)"
        let metrics = WriterMetrics(factory: options.metricsFactory)
        let replies = PendingReplies(depth: metrics.queueDepth)
        let prepared = PreparedMerges()
        let writer = try LedgerWriter(
            pool: pool, context: context, endpoints: [inprocEndpoint] + (options.ipcEndpoint.map { [$0] } ?? []),
            replica: replica, clock: clock, configuration: options.writer, durable: options.durable, metrics: metrics,
            inProcessReplies: replies, preparedMerges: prepared,
            logger: logger, onCommit: onCommit)
        self.writer = writer
        checkpointer = WALCheckpointer(path: path, durable: options.durable, commitCount: { writer.commitCount }, logger: logger)
        try checkpointer.start()
        do {
            try writer.start()
        } catch {
            checkpointer.stop()
            throw error
        }
        do {
            client = try InProcessWriteClient(context: context, endpoint: inprocEndpoint, replies: replies, prepared: prepared)
        } catch {
            writer.stop()
            checkpointer.stop()
            throw error
        }
    }

    /// Opens a pool on an existing database with the node's settings (WAL, foreign keys, durable commits).
    public static func openPool(path: String, durable: Bool = true) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // 32 MiB of page cache per connection (SQLite's default is 2 MiB): merges touch index pages all over a
            // large ledger, and re-reading them from the OS cache showed in profiles. Allocated only as used.
            try db.execute(sql: "PRAGMA cache_size = -32768")
            try LedgerSQLFunctions.register(on: db)
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        // Set here, on the one connection that commits, not in `prepareDatabase`: GRDB switches the writer to
        // `synchronous = NORMAL` when it enables WAL, after `prepareDatabase` ran (readers never commit).
        try pool.writeWithoutTransaction { db in try setDurability(durable, in: db) }
        return pool
    }

    /// `FULL` syncs every commit (and each checkpoint) to disk; `NORMAL` survives a process crash, not a power loss.
    static func setDurability(_ durable: Bool, in db: Database) throws {
        try db.execute(sql: durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")
    }

    /// Submits a mutation to the writer and returns its outcome after commit.
    public func submit(_ command: WriteCommand) async throws(StoreError) -> WriteOutcome {
        try await client.submit(encoded: QueueCodec.submission(command)).get()
    }

    /// Submits a peer's batch already in ``LedgerOperationCodec`` form, as `.mergeSigned` would after encoding it
    /// (see ``WriteQueueClient/submitMerge(encoded:)``): only operations their origins' proofs cover are applied.
    public func submitMerge(encoded operations: [UInt8]) async throws(StoreError) -> WriteOutcome {
        try await queueMerge(encoded: operations).outcome()
    }

    /// Queues such a merge now, behind every write queued before this returns, and returns its outcome to await
    /// later: a caller that queues the next page before awaiting this one keeps the writer from waiting for it.
    ///
    /// The batch is decoded here, on the caller's thread (``PreparedMerge``), while the writer applies what was
    /// queued before.
    /// - Throws: the decoder's error when the batch does not decode (malformed, truncated, of another version); nothing
    ///   is queued then.
    public func queueMerge(encoded operations: [UInt8]) throws(StoreError) -> QueuedWrite {
        let queued = QueuedWrite()
        try queueMerge(encoded: operations, whenDone: queued.complete)
        return queued
    }

    /// Queues such a merge as ``queueMerge(encoded:)`` does, and calls `done` with its outcome on the writer's
    /// thread, right after the commit (or when the queue closes): for a caller that must not wait on the writer,
    /// such as a stream's event loop. `done` must be short and must not block: the writer's next transaction waits
    /// for it.
    ///
    /// - Throws: the decoder's error when the batch does not decode; nothing is queued then and `done` is not called.
    public func queueMerge(
        encoded operations: [UInt8], whenDone done: @escaping @Sendable (Result<WriteOutcome, StoreError>) -> Void
    ) throws(StoreError) {
        var merge = client.reusableMerge()
        try merge.decode(operations)
        client.queue(prepared: merge, reply: done)
    }

    /// Drains the write queue, stops the writer and closes the client. Idempotent.
    public func close() {
        let first = closed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        writer.stop()
        client.shutdown()
        checkpointer.stop()
    }

    /// The ZMQ context, for additional in-process clients of the `inproc://` endpoint.
    public var zmqContext: ZMQContext { context }
}
