/// The unique name of one event: the replica that originated it and that replica's sequence number.
///
/// Each replica numbers its own events 1, 2, 3, … without gaps, so a dot names exactly one event
/// in the whole system. ``VersionVector`` summarises sets of dots, ``OperationLog`` keys its entries by dot.
///
/// Invariant: `sequence >= 1` (0 means "nothing yet" in a version vector and is never a dot).
///
/// Ordering is by `origin`, then `sequence`; this is a total order used to sort dots on the wire,
/// not a causal order.
public struct Dot: Hashable, Comparable, Codable, Sendable, CustomStringConvertible {
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

    public static func < (lhs: Dot, rhs: Dot) -> Bool {
        (lhs.origin, lhs.sequence) < (rhs.origin, rhs.sequence)
    }

    public var description: String { "\(origin)#\(sequence)" }

    private enum CodingKeys: String, CodingKey {
        case origin, sequence
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let origin = try container.decode(ReplicaID.self, forKey: .origin)
        let sequence = try container.decode(UInt64.self, forKey: .sequence)
        guard sequence >= 1 else {
            throw DecodingError.dataCorruptedError(
                forKey: .sequence, in: container, debugDescription: "a dot's sequence starts at 1")
        }
        self.init(origin: origin, sequence: sequence)
    }
}
