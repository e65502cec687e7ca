/// A summary of which events a replica holds: for every origin, the highest sequence `n` such that
/// all of that origin's events `1...n` are held.
///
/// Version vectors drive anti-entropy: a replica sends its vector, and the peer answers with the
/// events the vector does not cover.
///
/// ## Invariants
///
/// - Zero entries are never stored, so a vector that maps a replica to 0 equals one that omits it
///   (`VersionVector([a: 0]) == VersionVector()`), and `==` is equality of the summarised histories.
/// - Entries only grow: ``advance(_:to:)`` and ``merge(_:)`` take pointwise maxima.
///
/// ## Laws
///
/// Merge is the pointwise maximum, so it is commutative, associative and idempotent (see ``StateCRDT``).
///
/// Encodes as a JSON object from replica ID to sequence, for example `{"shop-1": 4, "hq": 17}`.
public struct VersionVector: Hashable, Sendable {
    /// The non-zero entries.
    public private(set) var entries: [ReplicaID: UInt64]

    /// Creates a vector from entries; zero entries are dropped.
    public init(_ entries: [ReplicaID: UInt64] = [:]) {
        self.entries = entries.filter { $0.value != 0 }
    }

    /// The highest contiguous sequence held from `replica` (0 if none).
    public subscript(_ replica: ReplicaID) -> UInt64 {
        entries[replica] ?? 0
    }

    /// Whether the vector covers no event at all.
    public var isEmpty: Bool { entries.isEmpty }

    /// Raises the entry for `replica` to `sequence` (never lowers it).
    public mutating func advance(_ replica: ReplicaID, to sequence: UInt64) {
        guard sequence > self[replica] else { return }
        entries[replica] = sequence
    }

    /// Whether the event named by `dot` is covered (`dot.sequence <= self[dot.origin]`).
    public func contains(_ dot: Dot) -> Bool {
        dot.sequence <= self[dot.origin]
    }
}

extension VersionVector: StateCRDT {
    /// Takes the pointwise maximum.
    public mutating func merge(_ other: VersionVector) {
        entries.merge(other.entries, uniquingKeysWith: Swift.max)
    }
}
