import CoreMetrics

/// The store's metrics: what the single writer commits and how many commands wait for it.
///
/// Made from a `MetricsFactory` the node passes in (never `MetricsSystem`'s global one), so several nodes in one
/// process each record into their own registry. The default factory records nothing.
///
/// Invariants, for every scrape:
/// - ``operationsWritten`` + ``operationsMerged`` grow by exactly the operations a committed batch added to the
///   ledger (the same events ``WriterStatistics`` counts); a batch whose commit failed adds nothing.
/// - ``batchSize`` has one observation per transaction the writer attempted, of the number of commands in it.
/// - ``queueDepth`` is the number of commands submitted through this process's write-queue client whose
///   acknowledgement has not been delivered yet (queued, being applied, or committed but not yet answered).
public struct WriterMetrics: Sendable {
    /// The metric names, shared with documentation and tests.
    public enum Name {
        public static let operationsWritten = "inv_operations_written_total"
        public static let operationsMerged = "inv_operations_merged_total"
        public static let batchSize = "inv_write_batch_size"
        public static let queueDepth = "inv_write_queue_depth"
    }

    /// Operations that originated on this node (local commits).
    public let operationsWritten: Counter
    /// Operations of other nodes newly added to the ledger by merges (duplicates and refusals excluded).
    public let operationsMerged: Counter
    /// Commands per group-commit transaction (a histogram where the factory aggregates).
    public let batchSize: Recorder
    /// Commands submitted and not yet acknowledged.
    public let queueDepth: Meter

    /// Creates the writer's metrics with `factory`.
    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        operationsWritten = Counter(label: Name.operationsWritten, factory: factory)
        operationsMerged = Counter(label: Name.operationsMerged, factory: factory)
        batchSize = Recorder(label: Name.batchSize, aggregate: true, factory: factory)
        queueDepth = Meter(label: Name.queueDepth, factory: factory)
    }
}
