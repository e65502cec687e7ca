import CRDT

/// The current, merged view of a product.
public struct ProductState: Hashable, Codable, Sendable {
    public var sku: String
    public var name: String
    public var description: String
    /// Canonical decimal string, or `nil` when no price is set.
    public var price: String?
    public var reorderPoint: Int64?
    public var deleted: Bool
    /// The product's barcodes, sorted.
    public var barcodes: [String]
    /// The newest timestamp among the product's fields.
    public var updatedAt: HLCTimestamp

    public init(sku: SKU, metadata: ProductMetadata) {
        self.sku = sku.rawValue
        name = metadata.name?.value ?? ""
        description = metadata.description?.value ?? ""
        price = metadata.price?.value ?? nil
        reorderPoint = metadata.reorderPoint?.value ?? nil
        deleted = metadata.deleted?.value ?? false
        barcodes = metadata.currentBarcodes
        updatedAt = [
            metadata.name?.timestamp, metadata.description?.timestamp, metadata.price?.timestamp,
            metadata.reorderPoint?.timestamp, metadata.deleted?.timestamp, metadata.barcodes?.timestamp,
        ].compactMap { $0 }.max() ?? .zero
    }
}
