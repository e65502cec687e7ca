import CRDT
import GRDB

/// A row of `products`: the product's metadata as one LWW register per field.
///
/// Statements, not a GRDB record type: it is on every write's path (see ``BoundStatement``).
enum ProductRecord {
    /// Reads the registers of one product, or `nil` when no operation for it is held.
    static func metadata(sku: SKU, in db: Database) throws -> ProductMetadata? {
        let statement = try db.cachedStatement(sql: "SELECT * FROM products WHERE sku = ?")
        guard let row = try Row.fetchOne(statement, arguments: [sku.rawValue]) else { return nil }
        return try metadata(from: row)
    }

    /// What a movement needs to know of its product, without building its registers.
    struct Summary {
        var exists: Bool
        var deleted: Bool
        var reorderPoint: Int64?
    }

    /// - Parameter warehouse: whose reorder point counts: its override if it has one, else the product's.
    static func summary(sku: SKU, warehouse: ReplicaID, in db: Database) throws -> Summary {
        let statement = try db.cachedStatement(sql: """
            SELECT p.name IS NOT NULL, p.deleted, coalesce(o.reorder_point, p.reorder_point)
            FROM products p LEFT JOIN reorder_overrides o ON o.sku = p.sku AND o.warehouse = ?
            WHERE p.sku = ?
            """)
        guard let row = try Row.fetchOne(statement, arguments: [warehouse.rawValue, sku.rawValue]) else {
            return Summary(exists: false, deleted: false, reorderPoint: nil)
        }
        return Summary(exists: row[0], deleted: row[1], reorderPoint: row[2])
    }

    static func metadata(from row: Row) throws -> ProductMetadata {
        func stamp(_ field: String) throws -> (HLCTimestamp, ReplicaID)? {
            guard let hlc: Int64 = row["\(field)_hlc"], let replica: String = row["\(field)_replica"] else { return nil }
            do { return (HLCTimestamp(rawValue: UInt64(hlc)), try ReplicaID(replica)) } catch {
                throw StoreError.storage("bad replica id in products: \(replica)")
            }
        }
        var metadata = ProductMetadata()
        if let (t, r) = try stamp("name") { metadata.name = LWWRegister(value: row["name"] ?? "", timestamp: t, replica: r) }
        if let (t, r) = try stamp("description") {
            metadata.description = LWWRegister(value: row["description"] ?? "", timestamp: t, replica: r)
        }
        if let (t, r) = try stamp("price") { metadata.price = LWWRegister(value: row["price"] as String?, timestamp: t, replica: r) }
        if let (t, r) = try stamp("reorder_point") {
            metadata.reorderPoint = LWWRegister(value: row["reorder_point"] as Int64?, timestamp: t, replica: r)
        }
        if let (t, r) = try stamp("deleted") { metadata.deleted = LWWRegister(value: row["deleted"] as Bool, timestamp: t, replica: r) }
        if let (t, r) = try stamp("barcodes") {
            let text: String = row["barcodes"] ?? ""
            metadata.barcodes = LWWRegister(value: text.split(separator: " ").map(String.init), timestamp: t, replica: r)
        }
        return metadata
    }

    /// Saves `metadata` as the product `sku`'s row, and its barcodes as its rows of the barcode look-up table when
    /// they differ from `barcodesBefore` (the set the table holds for it: that of the row being replaced, none for
    /// a new product).
    static func save(_ metadata: ProductMetadata, sku: SKU, barcodesBefore: [String], in db: Database) throws {
        // Bound straight onto SQLite (``BoundStatement``): a catalogue merged from a peer saves one product per
        // operation, and nineteen `DatabaseValue`s per row were most of the save.
        let upsert = try BoundStatement(db, sql: """
            INSERT OR REPLACE INTO products (sku, name, name_hlc, name_replica, description, description_hlc,
                description_replica, price, price_hlc, price_replica, reorder_point, reorder_point_hlc,
                reorder_point_replica, deleted, deleted_hlc, deleted_replica, barcodes, barcodes_hlc, barcodes_replica)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        func stamp<V>(_ register: LWWRegister<V>?, _ row: inout BoundStatement.Binder) {
            row.integer(register.map { Int64($0.timestamp.rawValue) })
            row.text(register?.replica.rawValue)
        }
        try upsert.execute { row in
            row.text(sku.rawValue)
            row.text(metadata.name?.value)
            stamp(metadata.name, &row)
            row.text(metadata.description?.value)
            stamp(metadata.description, &row)
            row.text(metadata.price?.value ?? nil)
            stamp(metadata.price, &row)
            row.integer(metadata.reorderPoint?.value ?? nil)
            stamp(metadata.reorderPoint, &row)
            row.integer(metadata.deleted?.value == true ? 1 : 0)
            stamp(metadata.deleted, &row)
            row.text(metadata.barcodes.map { $0.value.joined(separator: " ") })
            stamp(metadata.barcodes, &row)
        }
        // The look-up table of barcodes: the product's current set (a merge may replace it). Most writes leave it
        // as it was (every product of a catalogue created without barcodes, say): then there is nothing to rewrite.
        guard metadata.currentBarcodes != barcodesBefore else { return }
        try db.cachedStatement(sql: "DELETE FROM product_barcodes WHERE sku = ?").execute(arguments: [sku.rawValue])
        let insert = try db.cachedStatement(sql: "INSERT OR IGNORE INTO product_barcodes (barcode, sku) VALUES (?, ?)")
        for barcode in metadata.currentBarcodes { try insert.execute(arguments: [barcode, sku.rawValue]) }
    }
}

extension ProductRecord {
    /// The live products holding `barcode`, by SKU. More than one only after two nodes gave the same code to two
    /// products offline (a conflict `inv conflicts` reports); look-ups take the first, the same on every node.
    static func skus(holding barcode: String, in db: Database) throws -> [String] {
        try String.fetchAll(db.cachedStatement(sql: """
            SELECT b.sku FROM product_barcodes b JOIN products p ON p.sku = b.sku
            WHERE b.barcode = ? AND p.name IS NOT NULL AND p.deleted = 0 ORDER BY b.sku
            """), arguments: [barcode])
    }

    /// The SKU `typed` names: itself when a product has exactly that SKU, else the product holding it as a barcode
    /// (an exact SKU wins over a barcode), else `nil`.
    static func resolve(_ typed: String, in db: Database) throws -> String? {
        if try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM products WHERE sku = ? AND name IS NOT NULL"), arguments: [typed]) != nil {
            return typed
        }
        guard Barcode.isValid(typed) else { return nil }
        return try skus(holding: typed, in: db).first
    }
}
