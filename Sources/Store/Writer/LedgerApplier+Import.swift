import CRDT
import GRDB

extension LedgerApplier {
    /// The most rows one import holds.
    static var maxImportRows: Int { 50_000 }

    /// Creates or updates products from a catalogue, all rows or none.
    ///
    /// A row whose SKU names no live product creates it (through ``createProduct(_:actor:in:events:)``, with its
    /// checks: a SKU differing only by case from a live one is refused); a row naming a live product writes only
    /// the fields that differ (an update operation, so concurrent edits of other fields survive), and a row
    /// matching it exactly writes nothing. Empty price and reorder point mean none, so an export imports back
    /// unchanged. Any refusal is thrown as ``StoreError/onLine(_:_:)`` naming the row (from 1) and rolls every row
    /// back with the command's savepoint.
    /// - Complexity: one product operation per created or changed row.
    mutating func importProducts(_ rows: [ProductDraft], actor: String, in db: Database, events: inout CommittedEvents) throws -> WriteOutcome {
        guard !rows.isEmpty else { throw StoreError.invalidInput("an import needs at least one product") }
        guard rows.count <= Self.maxImportRows else {
            throw StoreError.invalidInput("an import holds at most \(Self.maxImportRows) products, got \(rows.count)")
        }
        var report = ImportReport()
        var seen: [String: Int] = [:]
        for (index, draft) in rows.enumerated() {
            let line = index + 1
            do {
                if let first = seen[draft.sku.rawValue.lowercased()] {
                    throw StoreError.invalidInput("\(draft.sku) is given twice (rows \(first) and \(line)); give each product once")
                }
                seen[draft.sku.rawValue.lowercased()] = line
                guard let metadata = try ProductRecord.metadata(sku: draft.sku, in: db), metadata.name != nil, !metadata.isDeleted else {
                    _ = try createProduct(draft, actor: actor, in: db, events: &events)
                    report.created += 1
                    continue
                }
                let held = ProductState(sku: draft.sku, metadata: metadata)
                var patch = ProductPatch()
                if held.name != draft.name { patch.name = draft.name }
                if held.description != draft.description { patch.description = draft.description }
                if held.price != draft.price?.rawValue { patch.price = .some(draft.price?.rawValue) }
                if held.reorderPoint != draft.reorderPoint { patch.reorderPoint = .some(draft.reorderPoint) }
                let barcodes = Set(draft.barcodes ?? []).sorted()
                if held.barcodes != barcodes { patch.barcodes = barcodes }
                guard patch != ProductPatch() else {
                    report.unchanged += 1
                    continue
                }
                _ = try updateProduct(draft.sku, patch, actor: actor, in: db, events: &events)
                report.updated += 1
            } catch let error as StoreError {
                throw StoreError.onLine(line, error)
            }
        }
        return .imported(report)
    }
}
