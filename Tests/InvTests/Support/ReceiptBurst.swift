import Foundation
import Store
import Synchronization

/// Receipts written in the background through a served node's own ZMQ write queue (its `ipc://` endpoint), as a
/// local process may: far faster than one `inv receive` each, by 32 concurrent submitters. Each receipt counts as
/// acknowledged once the writer answered it, which it does only after committing it.
///
/// A test that kills the node mid-burst calls ``cutOff()`` (requests still waiting then fail at once: their fate is
/// unknown) and reads from ``finish()`` exactly which writes the node promised.
final class ReceiptBurst: Sendable {
    /// The ids acknowledged so far, shared with the submitters.
    private final class Acknowledgements: Sendable {
        private let ids = Mutex<Set<String>>([])
        func insert(_ id: String) { ids.withLock { _ = $0.insert(id) } }
        var all: Set<String> { ids.withLock { $0 } }
    }

    private let client: WriteQueueClient
    private let acknowledgements: Acknowledgements
    private let submitting: Task<String?, Never>

    /// Starts submitting `receipts` of `sku` to the node whose data directory is `data`.
    ///
    /// - Throws: `HarnessError` when the node serves no write-queue socket.
    init(_ receipts: [(id: String, quantity: Int64)], sku: String, toData data: String, of warehouse: String) throws {
        // A served node binds this endpoint only when its path fits a Unix socket address (see InvNode).
        let socket = data + "/writer.ipc"
        guard socket.utf8.count <= 94, FileManager.default.fileExists(atPath: socket) else {
            throw HarnessError("\(warehouse) serves no write-queue socket at \(socket) (is $TMPDIR too long?)")
        }
        let context = try ZMQContext()
        let client = try WriteQueueClient(context: context, endpoint: "ipc://" + socket)
        let code = try SKU(sku)
        let acknowledged = Acknowledgements()
        self.client = client
        acknowledgements = acknowledged
        submitting = Task {
            let submitters = 32
            // The context lives as long as the submitters.
            defer { withExtendedLifetime(context) {} }
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for submitter in 0..<submitters {
                        let share = stride(from: submitter, to: receipts.count, by: submitters).map { receipts[$0] }
                        group.addTask {
                            for (id, quantity) in share {
                                let request = MovementRequest(type: .receive, sku: code, quantity: quantity, id: id, actor: "backlog")
                                guard case .movement(_, let duplicate) = try await client.submit(.movement(request)), !duplicate else {
                                    throw HarnessError("receipt \(id) was not recorded as new")
                                }
                                acknowledged.insert(id)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                return nil
            } catch {
                return "\(error)"
            }
        }
    }

    deinit { client.shutdown() }

    /// The receipts acknowledged so far.
    var acknowledged: Set<String> { acknowledgements.all }

    /// Fails every request still waiting for its answer (the node was killed: none will come) and stops submitting.
    func cutOff() { client.shutdown() }

    /// Waits until every receipt was answered, or the burst was cut off or failed.
    ///
    /// - Returns: the acknowledged receipts, and the first failure (nil when every receipt was acknowledged).
    func finish() async -> (acknowledged: Set<String>, failure: String?) {
        let failure = await submitting.value
        client.shutdown()
        return (acknowledged, failure)
    }
}
