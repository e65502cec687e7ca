/// A last-writer-wins register: a value stamped with the hybrid logical time and the replica of its write.
///
/// Writes are ordered by `(timestamp, replica)`, a total order; merge keeps the greater write. Used for
/// product fields where the latest edit should simply win.
///
/// ## Precondition of merge
///
/// Two registers with equal `(timestamp, replica)` must hold equal values. This holds when every write
/// takes its timestamp from the writing replica's ``HybridLogicalClock``, which never issues the same
/// timestamp twice. Under this precondition merge is commutative, associative and idempotent on full state.
/// If it is violated anyway, merge is still deterministic: it keeps `self` (the receiver), so the result
/// depends on the merge direction.
public struct LWWRegister<Value: Hashable & Sendable>: StateCRDT, Hashable {
    /// The written value.
    public let value: Value
    /// When it was written (the writer's HLC).
    public let timestamp: HLCTimestamp
    /// Who wrote it (breaks ties between equal timestamps).
    public let replica: ReplicaID

    /// Records a write.
    ///
    /// - Parameters:
    ///   - value: The new value.
    ///   - timestamp: A fresh timestamp from the writer's hybrid logical clock.
    ///   - replica: The writer.
    public init(value: Value, timestamp: HLCTimestamp, replica: ReplicaID) {
        self.value = value
        self.timestamp = timestamp
        self.replica = replica
    }

    /// Whether this write is ordered before `other` in the `(timestamp, replica)` order (values are ignored).
    public func isOrdered(before other: LWWRegister) -> Bool {
        (timestamp, replica) < (other.timestamp, other.replica)
    }

    /// Keeps the greater write by `(timestamp, replica)`; on a tie keeps `self`.
    public mutating func merge(_ other: LWWRegister) {
        if isOrdered(before: other) {
            self = other
        }
    }
}
