import CRDT

/// A value per origin met in a batch of operations, kept in arrays in order of first appearance, so that work
/// done per operation finds its origin's state without hashing the origin's name each time.
///
/// Batches arrive grouped: a sync page lists each origin's operations together, in sequence order. Finding an
/// operation's origin is then one comparison with the previous operation's; only a change of origin scans the
/// (few) origins already met.
struct PerOrigin<Value> {
    /// The origins met, in order of first appearance; `values[i]` belongs to `origins[i]`.
    private(set) var origins: [ReplicaID] = []
    var values: [Value] = []
    private var last = -1

    /// The index of `origin`'s value, made by `make` when the origin is met for the first time. If `make` throws,
    /// nothing is added.
    mutating func index(of origin: ReplicaID, makingValue make: () throws -> Value) rethrows -> Int {
        if last >= 0, origins[last] == origin { return last }
        if let known = origins.firstIndex(of: origin) {
            last = known
            return known
        }
        let value = try make()
        origins.append(origin)
        values.append(value)
        last = origins.count - 1
        return last
    }
}
