import Synchronization

/// A peer's page decoded before it reaches the writer: its operations, the row bodies that carried them (by
/// position) and the proofs of their origins, as ``LedgerOperationCodec`` decodes them.
///
/// A catching-up node's writer thread is its bottleneck, and decoding a page was about a third of its work; a page
/// decoded by the task that received it (``NodeStore/queueMerge(encoded:)``) overlaps that work with the writer's
/// merge of the page before. The writer applies a prepared page exactly as it applies the encoded one.
struct PreparedMerge: Sendable {
    var operations: [LedgerOperation] = []
    var bodies = EncodedBodies()
    var proofs = PageProofs()

    /// Decodes `encoded` (a ``LedgerOperationCodec`` batch) into this merge's buffers, reusing their storage.
    mutating func decode(_ encoded: [UInt8]) throws(StoreError) {
        proofs = try LedgerOperationCodec.decode(encoded, from: 0, into: &operations, bodies: &bodies)
    }
}

/// Prepared merges on their way to the writer, by the id of the in-process request that carries each
/// (``QueueCodec/preparedMerge``), and the buffers of merges the writer is done with.
///
/// The request itself still travels the write queue, so a prepared merge is applied in queue order like any other
/// write; only its decoded form waits here. Spent buffers come back so that the next page is decoded into storage
/// already mapped, and the previous page's operations are released by the decoding task, not by the writer.
///
/// Invariant: a merge is taken at most once, and only by the writer, for a request of this process's
/// ``InProcessWriteClient`` (the only sender of those ids).
final class PreparedMerges: Sendable {
    private struct State {
        var waiting: [UInt64: PreparedMerge] = [:]
        var spent: [PreparedMerge] = []
    }

    /// At most this many spent merges are kept (one per page in flight is enough).
    private static let spentLimit = 2

    private let state = Mutex(State())

    /// A merge to decode into: a spent one when there is one, else a fresh one.
    func reusable() -> PreparedMerge {
        state.withLock { $0.spent.popLast() } ?? PreparedMerge()
    }

    /// Holds `merge` for the request `id` about to be sent.
    func hold(_ merge: consuming PreparedMerge, for id: UInt64) {
        state.withLock { $0.waiting[id] = merge }
    }

    /// The merge held for request `id`, removed.
    func take(_ id: UInt64) -> PreparedMerge? {
        state.withLock { $0.waiting.removeValue(forKey: id) }
    }

    /// Gives back merges the writer is done with, for their storage.
    func recycle(_ merges: [PreparedMerge]) {
        state.withLock { state in
            for merge in merges where state.spent.count < Self.spentLimit { state.spent.append(merge) }
        }
    }
}
