/// The errors the CRDT layer can report.
///
/// Every case carries the data needed to explain the refusal, and
/// ``description`` renders it as one human-readable line (suitable for a CLI's stderr).
/// Operations that refuse with a `CRDTError` leave their receiver unchanged.
public enum CRDTError: Error, Equatable, Sendable {
    /// The string is not a valid ``ReplicaID`` (1...32 ASCII characters of `[A-Za-z0-9_-]`).
    case invalidReplicaID(String)

    /// A remote timestamp is further ahead of the local wall clock than the clock tolerates.
    ///
    /// Accepting it would drag the local hybrid logical clock (and every later timestamp)
    /// into the future, so ``HybridLogicalClock/receive(_:)`` refuses it instead.
    case clockDrift(remote: HLCTimestamp, localPhysicalMilliseconds: UInt64, maxOffsetMilliseconds: UInt64)

    /// A per-replica counter would exceed `UInt64.max`.
    case counterOverflow

    /// A counter operation was given an amount it cannot apply (zero).
    case invalidAmount(UInt64)
}

extension CRDTError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .invalidReplicaID(let raw):
            "invalid replica ID \(String(reflecting: raw.count > 64 ? String(raw.prefix(64)) + "…" : raw)): "
                + "must be 1 to 32 characters of A-Z, a-z, 0-9, '_' or '-'"
        case .clockDrift(let remote, let local, let maxOffset):
            "clock drift: remote timestamp \(remote) is \(remote.physicalMilliseconds &- local) ms ahead of "
                + "the local clock (\(local) ms), more than the allowed \(maxOffset) ms"
        case .counterOverflow:
            "counter overflow: a replica's total would exceed \(UInt64.max)"
        case .invalidAmount(let amount):
            "invalid amount \(amount): counter operations need an amount of at least 1"
        }
    }
}
