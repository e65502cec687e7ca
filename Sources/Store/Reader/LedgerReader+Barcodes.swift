import GRDB

extension LedgerReader {
    /// The SKU `typed` names: itself when a product has exactly that SKU, else the live product holding it as a
    /// barcode (the first by SKU when two do, the same on every node), else `nil`.
    public func resolveSKU(_ typed: String) throws -> String? {
        try read { db in try ProductRecord.resolve(typed, in: db) }
    }
}
