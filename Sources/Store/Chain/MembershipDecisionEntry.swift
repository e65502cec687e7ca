import CRDT

/// A retirement or re-admission as history shows it: a ``MembershipDecision`` without its signature.
public struct MembershipDecisionEntry: Hashable, Sendable {
    public var warehouse: String
    public var retired: Bool
    public var timestamp: HLCTimestamp
    public var actor: String
    /// The warehouse whose node issued it.
    public var issuer: String
    public var signer: MembershipDecision.Signer
}
