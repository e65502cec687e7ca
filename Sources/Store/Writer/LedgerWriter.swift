import CoreMetrics
import CRDT
import CZMQ
// swift-crypto 3.12 does not yet mark its keys Sendable; they are immutable.
@preconcurrency import Crypto
import Foundation
import GRDB
import Logging
import Synchronization

/// The node's single SQLite writer, fed by a ZMQ queue.
///
/// A dedicated thread owns a ROUTER socket bound to the node's endpoints (an `inproc://` one for the server
/// process, an `ipc://` one in the data directory for other local processes). It takes every request waiting on
/// the socket, in arrival order, applies them in one transaction with a savepoint each, commits, and only then
/// answers each request with its own outcome. So:
/// - a write is acknowledged only after its commit (group commit: one fsync for the whole batch);
/// - a batch of peers' pages only (signed merges) commits without an fsync of its own (`synchronous = NORMAL`):
///   what it merged is durable at its origin, and a node that loses it in a power cut has a vector without it, so
///   streams and rounds bring it again. The next durable commit, or the checkpointer's sync of the WAL, makes it
///   durable here too; and since the WAL is written in order, every local write is durable with everything merged
///   before it;
/// - a command that fails is rolled back to its savepoint and answered with its own error; the batch goes on;
/// - if the commit itself fails, every request of the batch is answered with that error and nothing is kept.
/// Requests of this process's ``InProcessWriteClient`` are answered by resuming their tasks through
/// ``PendingReplies``; those of other processes by a reply on the socket.
/// Reads never pass through here: they use the pool's WAL readers.
public final class LedgerWriter: Sendable {
    public struct Configuration: Sendable {
        /// The most requests applied in one transaction.
        public var maxBatch: Int = 4_096
        /// The clock skew a remote timestamp may show before it is refused.
        public var maxClockOffsetMilliseconds: UInt64 = 60_000
        /// The most operations indexed in one idle-time transaction (see `LedgerIndexes`): larger batches rewrite
        /// less of the indexes per operation, smaller ones keep a write arriving meanwhile waiting less (a batch of
        /// 100,000 takes about 0.4 s on a 1,000,000-operation ledger; 50,000 made a catch-up's indexing 1.3 times
        /// slower in all). 0 leaves the backlog alone (tests of history read from it).
        public var historyIndexBatch: Int = 100_000
        /// Past this many operations waiting for the history index, the writer indexes a batch after each commit
        /// even when requests keep coming (a node never idle would otherwise grow the backlog for ever). Far above
        /// a catch-up's pages, so a catch-up merges first and indexes after.
        public var historyBacklogLimit: Int = 1_000_000
        /// The node key (the one its CA-signed certificate certifies): this node's chain heads are signed with it at
        /// each commit and every ``SignedHead/signingInterval`` operations. Without it, no head of this node is
        /// signed, and peers take none of its operations.
        public var signingKey: P256.Signing.PrivateKey?
        /// The cluster CA's public key, which signs checkpoints (``ChainCheckpoint``). Without it, checkpoint marks
        /// prove nothing.
        public var clusterKey: P256.Signing.PublicKey?
        /// Asked once per transaction: whether its events are to carry the stock of each counter it changes (see
        /// ``CommittedEvents``). An event stream that shows stock asks for it; without one, nothing is read for it.
        public var reportsStock: @Sendable () -> Bool = { false }
        public init() {}
    }

    private let pool: DatabasePool
    private let context: ZMQContext
    private let endpoints: [String]
    private let replica: ReplicaID
    private let clock: any PhysicalClock
    private let configuration: Configuration
    /// Whether commits with local writes are synced to disk (``NodeStore/Options/durable``).
    private let durable: Bool
    private let onCommit: @Sendable (CommittedEvents) -> Void
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    /// Wakes the writer's poll for `stop()`: an idle writer's poll has no timeout.
    private let stopFD: Int32
    private let provenOwn = Atomic<UInt64>(0)
    private let commits = Atomic<UInt64>(0)
    private let membershipChanges = Atomic<UInt64>(0)
    private let finished = Mutex<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private let statistics = Mutex(WriterStatistics())
    private let metrics: WriterMetrics
    private let inProcessReplies: PendingReplies
    private let preparedMerges: PreparedMerges

    /// - Parameters:
    ///   - metrics: where the batch sizes and the operations written and merged are recorded.
    ///   - inProcessReplies: where the requests of this process's ``InProcessWriteClient`` wait.
    ///   - preparedMerges: where that client's prepared merges wait for their requests.
    init(
        pool: DatabasePool, context: ZMQContext, endpoints: [String], replica: ReplicaID, clock: some PhysicalClock,
        configuration: Configuration = .init(), durable: Bool = true, metrics: WriterMetrics = .init(),
        inProcessReplies: PendingReplies, preparedMerges: PreparedMerges, logger: Logger = Logger(label: "inv.writer"),
        onCommit: @escaping @Sendable (CommittedEvents) -> Void = { _ in }
    ) throws {
        stopFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard stopFD >= 0 else { throw StoreError.unavailable("eventfd failed: errno \(errno)") }
        self.durable = durable
        self.inProcessReplies = inProcessReplies
        self.preparedMerges = preparedMerges
        self.pool = pool
        self.context = context
        self.endpoints = endpoints
        self.replica = replica
        self.clock = clock
        self.configuration = configuration
        self.onCommit = onCommit
        self.logger = logger
        self.metrics = metrics
    }

    /// Counters for metrics: totals since start.
    public var stats: WriterStatistics { statistics.withLock { $0 } }

    /// The highest sequence of this node's own operations committed with their chain head (see
    /// ``LedgerApplier/provenOwnSequence``): set after each commit, before its events are published, so whoever
    /// an event wakes reads at least this far. 0 until the writer has started.
    public var provenOwnSequence: UInt64 { provenOwn.load(ordering: .acquiring) }

    /// Transactions committed since start (writes, merges, history indexing), counted after each commit: whoever
    /// reads the same count twice knows the database did not change between, without reading it.
    public var commitCount: UInt64 { commits.load(ordering: .acquiring) }

    /// Transactions committed since start that changed a row of `members` (a command answered
    /// `.members(changed:)` with some), counted after each such commit: whoever reads the same count twice knows the
    /// membership did not change between, without reading it while writes keep coming.
    public var membershipChangeCount: UInt64 { membershipChanges.load(ordering: .acquiring) }

    /// Binds the endpoints and starts the writer thread.
    ///
    /// - Throws: a `ZMQError` when an endpoint cannot be bound, or the store's error when the ledger cannot be read.
    public func start() throws {
        try SocketThread.start(name: "inv-writer", done: done) { [self] in
            let socket = try ZMQSocket(context: context, kind: .router)
            for endpoint in endpoints { try socket.bind(endpoint) }
            let loop = try pool.read { db in
                let applier = try LedgerApplier(
                    replica: replica, clock: AnyPhysicalClock(clock),
                    maxClockOffsetMilliseconds: configuration.maxClockOffsetMilliseconds,
                    signingKey: configuration.signingKey, clusterKey: configuration.clusterKey, in: db)
                let indexing = HistoryIndexingPolicy(
                    batch: configuration.historyIndexBatch, backlogLimit: configuration.historyBacklogLimit,
                    unindexed: try LedgerIndexes.backlog(in: db))
                provenOwn.store(applier.provenOwnSequence, ordering: .releasing)
                return (applier, indexing)
            }
            return (socket, loop)
        } run: { [self] socket, loop in
            run(socket: socket, applier: &loop.0, indexing: &loop.1)
        }
    }

    /// Stops taking requests once those already queued are answered, and waits for the thread to end.
    public func stop() {
        let first = finished.withLock { finished in
            defer { finished = true }
            return !finished
        }
        guard first else { return }
        stopping.store(true, ordering: .releasing)
        var one: UInt64 = 1
        _ = write(stopFD, &one, 8)
        done.wait()
    }

    deinit { close(stopFD) }

    private func run(socket: ZMQSocket, applier: inout LedgerApplier<AnyPhysicalClock>, indexing: inout HistoryIndexingPolicy) {
        var idlePolls = 0
        var operations: [LedgerOperation] = []
        var receivedBodies = EncodedBodies()
        // The connection's `synchronous` setting: `FULL` when durable, as the pool opened it.
        var syncsCommits = durable
        while true {
            let ready: Bool
            do {
                // Once stopping, polls do not wait: two in a row that find nothing end the thread.
                let timeout = stopping.load(ordering: .acquiring)
                    ? 0 : indexing.pollTimeoutMilliseconds(now: DispatchTime.now().uptimeNanoseconds) ?? -1
                ready = try ZMQPoll.readable(socket: socket, fd: stopFD, timeoutMilliseconds: timeout).socket
            } catch {
                logger.critical("write queue poll failed: \(error)")
                return
            }
            if !ready {
                // Stop only when nothing is waiting: requests queued before the stop are still answered.
                if stopping.load(ordering: .acquiring) {
                    idlePolls += 1
                    if idlePolls >= 2 { return }
                    continue
                }
                if let batch = indexing.batchWhenIdle(now: DispatchTime.now().uptimeNanoseconds) {
                    indexHistoryBacklog(batch, &indexing)
                }
                continue
            }
            idlePolls = 0
            var batch: [(identity: [UInt8], id: [UInt8], body: [UInt8])] = []
            do {
                while batch.count < configuration.maxBatch, let frames = try socket.receive(blocking: false) {
                    guard frames.count == 3 else {
                        logger.warning("dropping malformed write-queue message with \(frames.count) frames")
                        continue
                    }
                    batch.append((frames[0], frames[1], frames[2]))
                }
            } catch {
                logger.error("write queue receive failed: \(error)")
            }
            guard !batch.isEmpty else { continue }
            var prepared = batch.map { request -> PreparedMerge? in
                guard request.body.count == 1, request.body[0] == QueueCodec.preparedMerge,
                      request.identity == WriteWire.inProcessRoutingID, let id = WriteWire.requestID(request.id)
                else { return nil }
                return preparedMerges.take(id)
            }
            let results = commit(
                batch.map(\.body), prepared: &prepared, applier: &applier, indexing: &indexing, operations: &operations, receivedBodies: &receivedBodies,
                syncsCommits: &syncsCommits)
            for (request, result) in zip(batch, results) {
                if request.identity == WriteWire.inProcessRoutingID {
                    guard let id = WriteWire.requestID(request.id) else { continue }
                    inProcessReplies.resume(id, with: result)
                    continue
                }
                do {
                    try socket.send([request.identity, request.id, QueueCodec.encodeReply(result)])
                } catch {
                    // The submitter went away (EHOSTUNREACH): its write is committed all the same.
                    logger.debug("reply not delivered: \(error)")
                }
            }
            if let batch = indexing.batchAfterCommit() { indexHistoryBacklog(batch, &indexing) }
        }
    }

    private static func changedMembers(_ result: Result<WriteOutcome, StoreError>) -> Bool {
        guard case .success(.members(let changed)) = result else { return false }
        return !changed.isEmpty
    }

    /// Indexes one batch of the history backlog (see ``LedgerIndexes``) in its own transaction.
    private func indexHistoryBacklog(_ batch: Int, _ indexing: inout HistoryIndexingPolicy) {
        do {
            let more = try pool.writeWithoutTransaction { db in
                try PreparedTransaction.immediate(db) { try LedgerIndexes.indexBacklog(limit: batch, in: db) }
            }
            commits.add(1, ordering: .releasing)
            indexing.indexed(batch, more: more, now: DispatchTime.now().uptimeNanoseconds)
        } catch {
            logger.warning("history indexing failed (retried in \(HistoryIndexingPolicy.retryDelay / 1_000_000_000) s): \(error)")
            indexing.failed(now: DispatchTime.now().uptimeNanoseconds)
        }
    }

    /// Applies one batch in one transaction and returns the outcome of each request.
    ///
    /// `operations` and `receivedBodies` are the writer's buffers for a merge's decoded operations and the row
    /// bodies that carried them, reused from page to page: a fresh buffer of tens of megabytes per page was fresh
    /// memory for the kernel to zero each time. `prepared`: by position, the merges decoded already
    /// (``PreparedMerge``), taken out as they are applied; the buffers they leave go back to ``PreparedMerges``.
    private func commit(
        _ bodies: [[UInt8]], prepared: inout [PreparedMerge?], applier: inout LedgerApplier<AnyPhysicalClock>, indexing: inout HistoryIndexingPolicy,
        operations: inout [LedgerOperation], receivedBodies: inout EncodedBodies, syncsCommits: inout Bool
    ) -> [Result<WriteOutcome, StoreError>] {
        var results: [Result<WriteOutcome, StoreError>] = []
        results.reserveCapacity(bodies.count)
        var events = CommittedEvents()
        var working = applier
        working.reportsStock = configuration.reportsStock()
        var spent: [PreparedMerge] = []
        do {
            try pool.writeWithoutTransaction { db in
                let syncs = durable && !bodies.allSatisfy(QueueCodec.isPeerMerge)
                if syncs != syncsCommits {
                    try NodeStore.setDurability(syncs, in: db)
                    syncsCommits = syncs
                }
                try PreparedTransaction.immediate(db) {
                    for (position, body) in bodies.enumerated() {
                        let command: WriteCommand
                        do throws(StoreError) {
                            if var merge = prepared[position].take() {
                                // The writer's buffers swap with the merge's: what they held is released later, by
                                // whoever decodes into them next.
                                swap(&operations, &merge.operations)
                                swap(&receivedBodies, &merge.bodies)
                                command = .mergeSigned(operations, merge.proofs)
                                spent.append(merge)
                            } else {
                                command = try QueueCodec.decodeRequest(body, reusing: &operations, bodies: &receivedBodies)
                            }
                        } catch {
                            results.append(.failure(error))
                            continue
                        }
                        var scratch = working
                        // The command's events are appended in place and cut back if it rolls back.
                        let mark = events.mark
                        do {
                            let outcome = try PreparedTransaction.savepoint(.command, db) {
                                try scratch.apply(command, receivedBodies: receivedBodies, in: db, events: &events)
                            }
                            working = scratch
                            results.append(.success(outcome))
                        } catch let error as StoreError {
                            // The command was rolled back: forget its events and whatever it may have cached.
                            events.rollBack(to: mark)
                            working.cache.clear()
                            results.append(.failure(error))
                        } catch {
                            events.rollBack(to: mark)
                            working.cache.clear()
                            results.append(.failure(.storage(String(describing: error))))
                        }
                    }
                    try working.flushOwnSequence(in: db)
                    try NodeRecord.saveClock(working.clock.last, in: db)
                }
            }
            applier = working
            provenOwn.store(working.provenOwnSequence, ordering: .releasing)
            commits.add(1, ordering: .releasing)
            if results.contains(where: Self.changedMembers) { membershipChanges.add(1, ordering: .releasing) }
        } catch {
            working.cache.clear()
            logger.error("write batch of \(bodies.count) failed to commit: \(error)")
            let failure = StoreError.storage("commit failed: \(error)")
            results = Array(repeating: .failure(failure), count: bodies.count)
            events = CommittedEvents()
        }
        let (local, merged) = events.operationCounts(localReplica: replica)
        indexing.committed(operations: local + merged, now: DispatchTime.now().uptimeNanoseconds)
        statistics.withLock { stats in
            stats.batches += 1
            stats.commands += bodies.count
            stats.lastBatchSize = bodies.count
            stats.largestBatch = max(stats.largestBatch, bodies.count)
            stats.localOperations += local
            stats.mergedOperations += merged
        }
        metrics.batchSize.record(bodies.count)
        if local > 0 { metrics.operationsWritten.increment(by: local) }
        if merged > 0 { metrics.operationsMerged.increment(by: merged) }
        if !events.isEmpty { onCommit(events) }
        preparedMerges.recycle(spent)
        return results
    }
}

/// Totals kept by the writer, for metrics and benchmarks.
public struct WriterStatistics: Sendable, Equatable {
    public var batches = 0
    public var commands = 0
    public var lastBatchSize = 0
    public var largestBatch = 0
    public var localOperations = 0
    public var mergedOperations = 0
}

/// Type-erases a clock so the writer thread's applier has one concrete type.
struct AnyPhysicalClock: PhysicalClock {
    let base: any PhysicalClock
    init(_ base: any PhysicalClock) { self.base = base }
    func nowMilliseconds() -> UInt64 { base.nowMilliseconds() }
}
