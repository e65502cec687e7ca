import CRDT
import GRDB

extension LedgerApplier {
    /// The most barcodes one product holds.
    static var maxBarcodes: Int { 32 }

    /// Checks barcodes given to `sku` here and returns them sorted, each once.
    ///
    /// Local rules only (a merge never refuses a product): each code is an EAN-13, EAN-8 or UPC-A with the right
    /// check digit, no code is a live product's SKU (a look-up takes an exact SKU first, so that code could never be
    /// scanned), and no code belongs to another live product. Two nodes giving one code to two products offline
    /// meet in a merge: both keep it, `inv conflicts` reports it, and look-ups take the first SKU on every node.
    /// - Throws: `StoreError.invalidInput`, `StoreError.barcodeTaken`.
    static func validateBarcodes(_ codes: [String], of sku: SKU, in db: Database) throws -> [String] {
        var valid: Set<String> = []
        for code in codes { valid.insert(try Barcode(code).rawValue) }
        guard valid.count <= maxBarcodes else {
            throw StoreError.invalidInput("a product holds at most \(maxBarcodes) barcodes, got \(valid.count)")
        }
        let sorted = valid.sorted()
        let skuStatement = try db.cachedStatement(sql: "SELECT 1 FROM products WHERE sku = ? AND name IS NOT NULL AND deleted = 0")
        for code in sorted {
            if code != sku.rawValue, try Bool.fetchOne(skuStatement, arguments: [code]) != nil {
                throw StoreError.barcodeTaken(barcode: code, sku: code)
            }
            if let holder = try ProductRecord.skus(holding: code, in: db).first(where: { $0 != sku.rawValue }) {
                throw StoreError.barcodeTaken(barcode: code, sku: holder)
            }
        }
        return sorted
    }
}
