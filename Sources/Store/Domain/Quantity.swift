/// The bounds every movement quantity obeys.
public enum Quantity {
    /// Quantities are whole units in `1...1_000_000_000`; an adjustment's magnitude obeys the same bounds.
    public static let range: ClosedRange<Int64> = 1...1_000_000_000

    /// - Throws: `StoreError.invalidQuantity` when `value` is outside ``range``.
    public static func validate(_ value: Int64) throws(StoreError) {
        guard range.contains(value) else { throw .invalidQuantity(value) }
    }

    /// Validates a signed adjustment: non-zero, magnitude within ``range``.
    ///
    /// - Throws: `StoreError.invalidDelta` otherwise.
    public static func validateDelta(_ value: Int64) throws(StoreError) {
        guard value != 0, value != .min, range.contains(abs(value)) else { throw .invalidDelta(value) }
    }
}
