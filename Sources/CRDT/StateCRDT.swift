/// A state-based CRDT (a join semilattice): replicas converge by exchanging and merging states.
///
/// ## Laws
///
/// For all reachable states `a`, `b`, `c` (compared with full-state `==`, never only their values):
///
/// - **Commutative:** `a.merged(with: b) == b.merged(with: a)`
/// - **Associative:** `a.merged(with: b).merged(with: c) == a.merged(with: b.merged(with: c))`
/// - **Idempotent:** `a.merged(with: a) == a`
///
/// Hence any two replicas that have merged the same set of states hold equal states, whatever the order,
/// grouping or repetition of the merges (strong eventual consistency).
///
/// ## Deltas
///
/// Mutating operations return a *delta*: a small state of the same type holding only what the operation
/// changed. If an operation takes state `s` to `s'` and returns delta `d`, then `s.merged(with: d) == s'`,
/// and for every state `t` that has already merged `s`, `t.merged(with: d) == t.merged(with: s')`.
/// So shipping deltas instead of full states is safe, as long as every delta eventually arrives (or a full
/// state is shipped instead); deltas may arrive late, twice or out of order.
///
/// Conforming types state any preconditions of their merge (for example the uniqueness of timestamps)
/// in their own documentation.
public protocol StateCRDT: Equatable, Sendable {
    /// Merges `other` into this state (the least upper bound of the two).
    mutating func merge(_ other: Self)

    /// Returns the merge of this state and `other`, leaving both unchanged.
    func merged(with other: Self) -> Self
}

extension StateCRDT {
    public func merged(with other: Self) -> Self {
        var result = self
        result.merge(other)
        return result
    }
}
