/// The unique name of one event: the replica that originated it and that replica's sequence number.
///
/// Each replica numbers its own events 1, 2, 3, … without gaps, so a dot names exactly one event
/// in the whole system. ``VersionVector`` summarises sets of dots.
///
/// Invariant: `sequence >= 1` (0 means "nothing yet" in a version vector and is never a dot).
public struct Dot: Hashable, Sendable, CustomStringConvertible {
    /// The replica that created the event.
    public let origin: ReplicaID
    /// The event's position in its origin's history, starting at 1.
    public let sequence: UInt64

    /// Creates a dot.
    ///
    /// - Precondition: `sequence >= 1`.
    public init(origin: ReplicaID, sequence: UInt64) {
        precondition(sequence >= 1, "a dot's sequence starts at 1")
        self.origin = origin
        self.sequence = sequence
    }

    public var description: String { "\(origin)#\(sequence)" }
}
