import CRDT

/// The events of one committed write transaction, in order, as the writer hands them to listeners.
///
/// A merged page arrives as tens of thousands of operations. Copying each into its own `.operation` event cost
/// the writer a tenth of its time per merged operation (a 300-byte copy into a buffer of 15 MB per page), and
/// most listeners want none of them. So the operations of a merge are kept as one slice of the page itself
/// (``Entry/merged``), and iterating yields them as `.operation` events only for whoever iterates.
///
/// When the writer is asked to (``LedgerWriter/Configuration/reportsStock``), the events also carry the stock of each
/// counter the transaction changed, as the transaction leaves it (``stockAfter()``): an event stream then
/// shows a movement's stock without a read of its own for each movement.
///
/// Invariant: iterating gives exactly the events appended, in the order appended, a merged slice expanded in
/// place into one `.operation` event per operation; stock entries are not events and are skipped.
public struct CommittedEvents: Sequence, Sendable {
    public enum Entry: Sendable {
        case event(StoreEvent)
        /// Operations merged from peers (none of them made here, unless this node catches up after a restore).
        case merged(ArraySlice<LedgerOperation>)
        /// A stock counter's value after the command that appended it (a later entry for the same counter wins).
        case stock(sku: SKU, warehouse: ReplicaID, onHand: Int64)
    }

    public private(set) var entries: [Entry] = []

    public init() {}

    public init(_ events: [StoreEvent]) { entries = events.map(Entry.event) }

    public var isEmpty: Bool { entries.isEmpty }

    public mutating func append(_ event: StoreEvent) { entries.append(.event(event)) }

    public mutating func append(merged operations: ArraySlice<LedgerOperation>) {
        if !operations.isEmpty { entries.append(.merged(operations)) }
    }

    mutating func append(contentsOf other: CommittedEvents) { entries += other.entries }

    /// Records `onHand` as the stock of `sku` in `warehouse` after what was appended so far.
    public mutating func append(stock onHand: Int64, sku: SKU, warehouse: ReplicaID) {
        entries.append(.stock(sku: sku, warehouse: warehouse, onHand: onHand))
    }

    /// The stock of each counter the transaction recorded, as the transaction leaves it, by SKU then warehouse.
    public func stockAfter() -> [SKU: [ReplicaID: Int64]] {
        var stock: [SKU: [ReplicaID: Int64]] = [:]
        for case .stock(let sku, let warehouse, let onHand) in entries { stock[sku, default: [:]][warehouse] = onHand }
        return stock
    }

    /// A point to roll back to if what follows is rolled back.
    var mark: Int { entries.count }

    mutating func rollBack(to mark: Int) { entries.removeSubrange(mark...) }

    /// Operations among the events: made by `replica` (local) and made elsewhere (merged), without expanding.
    func operationCounts(localReplica replica: ReplicaID) -> (local: Int, merged: Int) {
        var local = 0
        var merged = 0
        for entry in entries {
            switch entry {
            case .event(.operation(let op)): if op.origin == replica { local += 1 } else { merged += 1 }
            case .event, .stock: break
            case .merged(let operations):
                for position in operations.indices {
                    if operations[position].origin == replica { local += 1 } else { merged += 1 }
                }
            }
        }
        return (local, merged)
    }

    public struct Iterator: IteratorProtocol {
        private let entries: [Entry]
        private var entry = 0
        private var inMerged: ArraySlice<LedgerOperation>.Index?

        fileprivate init(_ entries: [Entry]) { self.entries = entries }

        public mutating func next() -> StoreEvent? {
            while entry < entries.count {
                switch entries[entry] {
                case .event(let event):
                    entry += 1
                    return event
                case .merged(let operations):
                    let index = inMerged ?? operations.startIndex
                    if index < operations.endIndex {
                        inMerged = index + 1
                        return .operation(operations[index])
                    }
                    inMerged = nil
                    entry += 1
                case .stock:
                    entry += 1
                }
            }
            return nil
        }
    }

    public func makeIterator() -> Iterator { Iterator(entries) }
}
