/// A set of edits to a product's metadata; `nil` fields are left untouched.
///
/// `price` and `reorderPoint` are doubly optional: `nil` leaves the field alone, `.some(nil)` clears it.
///
/// Encodes each field only when set; a cleared price or reorder point is written as JSON `null`, so
/// "absent" (untouched) and `null` (cleared) survive a round trip:
/// `{"name": "Tea", "price": null}` renames and clears the price.
public struct ProductPatch: Hashable, Codable, Sendable {
    /// A new name.
    public var name: String?
    /// A new description.
    public var description: String?
    /// A new price (canonical decimal string), or `.some(nil)` to remove the price.
    public var price: String??
    /// A new reorder point, or `.some(nil)` to remove it.
    public var reorderPoint: Int64??
    /// Deletes (`true`) or restores (`false`) the product.
    public var deleted: Bool?
    /// A new set of barcodes (sorted, each once), replacing the old one; `[]` removes every barcode.
    public var barcodes: [String]?

    public init(
        name: String? = nil,
        description: String? = nil,
        price: String?? = nil,
        reorderPoint: Int64?? = nil,
        deleted: Bool? = nil,
        barcodes: [String]? = nil
    ) {
        self.name = name
        self.description = description
        self.price = price
        self.reorderPoint = reorderPoint
        self.deleted = deleted
        self.barcodes = barcodes
    }

    /// Whether the patch changes nothing.
    public var isEmpty: Bool {
        name == nil && description == nil && price == nil && reorderPoint == nil && deleted == nil && barcodes == nil
    }

    private enum CodingKeys: String, CodingKey {
        case name, description, price, reorderPoint, deleted, barcodes
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        description = try container.decodeIfPresent(String.self, forKey: .description)
        price = try Self.decodeClearable(String.self, forKey: .price, in: container)
        reorderPoint = try Self.decodeClearable(Int64.self, forKey: .reorderPoint, in: container)
        deleted = try container.decodeIfPresent(Bool.self, forKey: .deleted)
        barcodes = try container.decodeIfPresent([String].self, forKey: .barcodes)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(name, forKey: .name)
        try container.encodeIfPresent(description, forKey: .description)
        try Self.encodeClearable(price, forKey: .price, in: &container)
        try Self.encodeClearable(reorderPoint, forKey: .reorderPoint, in: &container)
        try container.encodeIfPresent(deleted, forKey: .deleted)
        try container.encodeIfPresent(barcodes, forKey: .barcodes)
    }

    /// Absent key → `nil` (untouched); `null` → `.some(nil)` (cleared); a value → `.some(value)`.
    private static func decodeClearable<T: Decodable>(
        _ type: T.Type, forKey key: CodingKeys, in container: KeyedDecodingContainer<CodingKeys>
    ) throws -> T?? {
        guard container.contains(key) else { return nil }
        if try container.decodeNil(forKey: key) { return .some(nil) }
        return .some(try container.decode(type, forKey: key))
    }

    private static func encodeClearable<T: Encodable>(
        _ value: T??, forKey key: CodingKeys, in container: inout KeyedEncodingContainer<CodingKeys>
    ) throws {
        switch value {
        case .none: break
        case .some(.none): try container.encodeNil(forKey: key)
        case .some(.some(let value)): try container.encode(value, forKey: key)
        }
    }
}
