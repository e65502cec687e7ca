/// A positive-negative counter: each replica counts its own increments and decrements, and the value is
/// the sum over all replicas.
///
/// Used for stock levels: concurrent sales on different devices all count, none is lost.
///
/// ## Invariants
///
/// - Each replica's `increments` and `decrements` only grow, and only that replica changes them.
/// - Entries whose counts are both zero are never stored, so full-state `==` compares histories.
///
/// ## Merge
///
/// Merge takes, per replica, the maximum of the increments and the maximum of the decrements — never
/// the totals: merging totals would lose concurrent updates.
/// Commutative, associative and idempotent; deltas from ``increment(by:replica:)`` and
/// ``decrement(by:replica:)`` follow the delta law of ``StateCRDT``.
public struct PNCounter: StateCRDT, Hashable {
    /// One replica's running totals.
    public struct Entry: Hashable, Codable, Sendable {
        /// Sum of all amounts this replica added.
        public var increments: UInt64
        /// Sum of all amounts this replica removed.
        public var decrements: UInt64

        public init(increments: UInt64 = 0, decrements: UInt64 = 0) {
            self.increments = increments
            self.decrements = decrements
        }

        /// Whether both counts are zero.
        public var isZero: Bool { increments == 0 && decrements == 0 }

        /// Pointwise maximum of two entries of the same replica.
        public func joined(with other: Entry) -> Entry {
            Entry(
                increments: Swift.max(increments, other.increments),
                decrements: Swift.max(decrements, other.decrements))
        }
    }

    /// The per-replica totals (no all-zero entries).
    public private(set) var entries: [ReplicaID: Entry]

    /// Creates a counter with value 0.
    public init() {
        entries = [:]
    }

    /// Creates a counter from per-replica totals; all-zero entries are dropped.
    public init(entries: [ReplicaID: Entry]) {
        self.entries = entries.filter { !$0.value.isZero }
    }

    /// The sum of all increments minus the sum of all decrements.
    ///
    /// Computed with wrapping arithmetic modulo 2^64, so the result is exact whenever the true value fits
    /// in `Int64`, however large the individual sums are (stock levels always fit).
    public var value: Int64 {
        var total: Int64 = 0
        for entry in entries.values {
            total &+= Int64(truncatingIfNeeded: entry.increments)
            total &-= Int64(truncatingIfNeeded: entry.decrements)
        }
        return total
    }

    /// The totals of `replica` (zero if it never counted).
    public func entry(for replica: ReplicaID) -> Entry {
        entries[replica] ?? Entry()
    }

    /// Adds `amount` on behalf of `replica`.
    ///
    /// - Parameters:
    ///   - amount: How much to add; at least 1.
    ///   - replica: The replica performing the operation (the caller's own ID).
    /// - Returns: The delta: a counter holding only `replica`'s new entry.
    /// - Throws: ``CRDTError/invalidAmount(_:)`` for 0, ``CRDTError/counterOverflow`` if the replica's
    ///   increments would exceed `UInt64.max`. The counter is unchanged when it throws.
    @discardableResult
    public mutating func increment(by amount: UInt64, replica: ReplicaID) throws(CRDTError) -> PNCounter {
        guard amount > 0 else { throw .invalidAmount(amount) }
        var entry = entry(for: replica)
        let (sum, overflow) = entry.increments.addingReportingOverflow(amount)
        guard !overflow else { throw .counterOverflow }
        entry.increments = sum
        entries[replica] = entry
        return PNCounter(entries: [replica: entry])
    }

    /// Subtracts `amount` on behalf of `replica`.
    ///
    /// - Parameters:
    ///   - amount: How much to subtract; at least 1.
    ///   - replica: The replica performing the operation (the caller's own ID).
    /// - Returns: The delta: a counter holding only `replica`'s new entry.
    /// - Throws: ``CRDTError/invalidAmount(_:)`` for 0, ``CRDTError/counterOverflow`` if the replica's
    ///   decrements would exceed `UInt64.max`. The counter is unchanged when it throws.
    @discardableResult
    public mutating func decrement(by amount: UInt64, replica: ReplicaID) throws(CRDTError) -> PNCounter {
        guard amount > 0 else { throw .invalidAmount(amount) }
        var entry = entry(for: replica)
        let (sum, overflow) = entry.decrements.addingReportingOverflow(amount)
        guard !overflow else { throw .counterOverflow }
        entry.decrements = sum
        entries[replica] = entry
        return PNCounter(entries: [replica: entry])
    }

    /// Takes, per replica, the maximum increments and the maximum decrements.
    public mutating func merge(_ other: PNCounter) {
        entries.merge(other.entries) { $0.joined(with: $1) }
    }
}
