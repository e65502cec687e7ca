import CRDT

/// What the single writer remembers between commands: this warehouse's counters and its view of products.
///
/// Sound because the writer is the only writer: every change to these rows passes through it. Entries are
/// written only by commands that succeed, product entries are dropped whenever a product or reorder-point
/// operation is applied (local or merged), and the whole cache is cleared when any command or commit fails, so a
/// rolled-back change is never remembered. Owned by the writer thread only.
final class WriterCache: @unchecked Sendable {
    private(set) var counters: [SKU: PNCounter] = [:]
    private(set) var products: [SKU: ProductRecord.Summary] = [:]
    /// Bounds memory: past this many entries a map starts afresh.
    let capacity = 200_000

    func counter(_ sku: SKU) -> PNCounter? { counters[sku] }

    func remember(_ counter: PNCounter, for sku: SKU) {
        if counters.count >= capacity { counters.removeAll(keepingCapacity: true) }
        counters[sku] = counter
    }

    func product(_ sku: SKU) -> ProductRecord.Summary? { products[sku] }

    func remember(_ summary: ProductRecord.Summary, for sku: SKU) {
        if products.count >= capacity { products.removeAll(keepingCapacity: true) }
        products[sku] = summary
    }

    func forgetProduct(_ sku: SKU) { products[sku] = nil }

    func clear() {
        counters.removeAll(keepingCapacity: true)
        products.removeAll(keepingCapacity: true)
    }
}
