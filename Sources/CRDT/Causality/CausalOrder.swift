/// How two causal histories (for example two ``VersionVector`` values) relate.
public enum CausalOrder: Hashable, Sendable {
    /// The left history is strictly contained in the right one.
    case before
    /// The left history strictly contains the right one.
    case after
    /// Both histories are the same.
    case equal
    /// Each history contains something the other lacks.
    case concurrent
}
