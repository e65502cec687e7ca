/// A product's descriptive fields, each an independent last-writer-wins register, so that concurrent
/// edits of different fields both survive (one device renames while another reprices).
///
/// A field is `nil` until first written. Deletion is itself a register (`deleted`), so a product can be
/// restored, and a concurrent edit never resurrects or loses a deletion unpredictably: the later write
/// of `deleted` wins.
///
/// ## Merge
///
/// Fieldwise ``LWWRegister`` merge, with `nil` as the identity. Commutative, associative and idempotent
/// under the register's precondition (equal `(timestamp, replica)` implies equal value), which holds when
/// every ``apply(_:at:by:)`` uses a fresh timestamp from the writer's ``HybridLogicalClock``.
public struct ProductMetadata: StateCRDT, Hashable {
    /// The product's display name.
    public var name: LWWRegister<String>?
    /// Free-text description.
    public var description: LWWRegister<String>?
    /// Unit price as a canonical decimal string; a `nil` value means "no price".
    public var price: LWWRegister<String?>?
    /// Stock level at which to reorder; a `nil` value means "no reorder point".
    public var reorderPoint: LWWRegister<Int64?>?
    /// Whether the product is deleted (a tombstone that can be lifted by a later write).
    public var deleted: LWWRegister<Bool>?
    /// The product's barcodes, as one set written whole (sorted, each once).
    public var barcodes: LWWRegister<[String]>?

    /// Creates metadata with no field written.
    public init() {}

    /// Whether the latest write of `deleted` was `true`.
    public var isDeleted: Bool { deleted?.value ?? false }
    /// The current barcodes (none until first written).
    public var currentBarcodes: [String] { barcodes?.value ?? [] }

    /// Applies the fields set in `patch` as writes stamped `(timestamp, replica)`.
    ///
    /// Each touched field is merged with a new register, so a write older than the field's current one
    /// loses (as it would on any other replica).
    ///
    /// - Parameters:
    ///   - patch: The fields to write.
    ///   - timestamp: A fresh timestamp from `replica`'s hybrid logical clock (never reused for another write).
    ///   - replica: The writer.
    /// - Returns: The delta: metadata holding only the touched fields' new registers.
    @discardableResult
    public mutating func apply(_ patch: ProductPatch, at timestamp: HLCTimestamp, by replica: ReplicaID)
        -> ProductMetadata
    {
        var delta = ProductMetadata()
        if let value = patch.name {
            delta.name = LWWRegister(value: value, timestamp: timestamp, replica: replica)
        }
        if let value = patch.description {
            delta.description = LWWRegister(value: value, timestamp: timestamp, replica: replica)
        }
        if let value = patch.price {
            delta.price = LWWRegister(value: value, timestamp: timestamp, replica: replica)
        }
        if let value = patch.reorderPoint {
            delta.reorderPoint = LWWRegister(value: value, timestamp: timestamp, replica: replica)
        }
        if let value = patch.deleted {
            delta.deleted = LWWRegister(value: value, timestamp: timestamp, replica: replica)
        }
        if let value = patch.barcodes {
            delta.barcodes = LWWRegister(value: value, timestamp: timestamp, replica: replica)
        }
        merge(delta)
        return delta
    }

    /// Merges field by field; a `nil` field takes the other side's register.
    public mutating func merge(_ other: ProductMetadata) {
        Self.merge(&name, other.name)
        Self.merge(&description, other.description)
        Self.merge(&price, other.price)
        Self.merge(&reorderPoint, other.reorderPoint)
        Self.merge(&deleted, other.deleted)
        Self.merge(&barcodes, other.barcodes)
    }

    private static func merge<V>(_ field: inout LWWRegister<V>?, _ other: LWWRegister<V>?) {
        guard let other else { return }
        if let current = field {
            field = current.merged(with: other)
        } else {
            field = other
        }
    }
}
