import GRDB

extension LedgerReader {
    /// The document recorded here under `id`, with its lines in order.
    public func document(id: String) throws -> DocumentRecord? {
        try read { db in try DocumentRecord.fetch(id: id, in: db) }
    }
}
