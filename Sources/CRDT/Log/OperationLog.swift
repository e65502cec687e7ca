/// The replicated, append-only ledger of operations: a grow-only map from ``Dot`` to operation.
///
/// Each replica appends its own operations under dots `origin#1`, `origin#2`, …; replicas exchange the
/// operations the other lacks (``delta(since:)``) and merge by union. Every replica that has merged the
/// same operations holds the same log, whatever the order of arrival.
///
/// ## Invariants
///
/// - Operations are never removed or replaced.
/// - ``versionVector`` maps each origin to the highest `n` such that `origin#1 ... origin#n` are all
///   present (the contiguous prefix); a log that received `origin#3` but not `origin#2` reports 1.
/// - ``append(_:origin:)`` uses the sequence after the highest one present for that origin.
///
/// ## Precondition of merge
///
/// A dot always names the same operation: each origin appends only through ``append(_:origin:)`` on its
/// own log (or ``insert(_:at:)`` with operations it received). Under this precondition merge (set union)
/// is commutative, associative and idempotent. If two logs disagree about a dot anyway, merge keeps the
/// receiver's operation.
///
/// Full-state `==` compares the operations (the version vector is derived from them).
///
/// Encodes as a JSON array sorted by dot: `[{"origin": "shop-1", "sequence": 1, "operation": …}, …]`.
public struct OperationLog<Operation: Hashable & Codable & Sendable>: StateCRDT, Hashable {
    /// Every operation held, by dot.
    public private(set) var operations: [Dot: Operation]

    /// The highest contiguous sequence held per origin.
    public private(set) var versionVector: VersionVector

    /// The highest sequence held per origin, contiguous or not.
    private var highestSequences: [ReplicaID: UInt64]

    /// Creates an empty log.
    public init() {
        operations = [:]
        versionVector = VersionVector()
        highestSequences = [:]
    }

    /// Creates a log holding `operations`.
    public init(operations: [Dot: Operation]) {
        self.init()
        for (dot, operation) in operations {
            insert(operation, at: dot)
        }
    }

    /// The number of operations held.
    public var count: Int { operations.count }

    /// The operations in dot order (by origin, then sequence).
    public var sortedOperations: [(dot: Dot, operation: Operation)] {
        operations.sorted { $0.key < $1.key }.map { (dot: $0.key, operation: $0.value) }
    }

    /// The highest sequence held from `origin`, contiguous or not (0 if none).
    public func highestSequence(of origin: ReplicaID) -> UInt64 {
        highestSequences[origin] ?? 0
    }

    /// Appends a new operation originating at `origin` (the caller's own replica).
    ///
    /// - Returns: The delta: a log holding just the new operation.
    /// - Precondition: `origin` has fewer than `UInt64.max` operations.
    @discardableResult
    public mutating func append(_ operation: Operation, origin: ReplicaID) -> OperationLog {
        let dot = Dot(origin: origin, sequence: highestSequence(of: origin) + 1)
        insert(operation, at: dot)
        var delta = OperationLog()
        delta.insert(operation, at: dot)
        return delta
    }

    /// Adds an operation received from elsewhere under its original dot.
    ///
    /// Inserting a dot that is already present keeps the existing operation (see the merge precondition).
    public mutating func insert(_ operation: Operation, at dot: Dot) {
        guard operations[dot] == nil else { return }
        operations[dot] = operation
        if dot.sequence > highestSequence(of: dot.origin) {
            highestSequences[dot.origin] = dot.sequence
        }
        var contiguous = versionVector[dot.origin]
        while operations[Dot(origin: dot.origin, sequence: contiguous + 1)] != nil {
            contiguous += 1
        }
        versionVector.advance(dot.origin, to: contiguous)
    }

    /// The operations a replica whose log is summarised by `vector` may lack: those whose dot the vector
    /// does not cover.
    ///
    /// For every log `other` with `other.versionVector == vector`,
    /// `other.merged(with: delta(since: vector)) == other.merged(with: self)`.
    ///
    /// - Complexity: O(n) in the number of operations held.
    public func delta(since vector: VersionVector) -> OperationLog {
        var delta = OperationLog()
        for (dot, operation) in operations where !vector.contains(dot) {
            delta.insert(operation, at: dot)
        }
        return delta
    }

    /// Adds every operation of `other` this log lacks (set union).
    public mutating func merge(_ other: OperationLog) {
        for (dot, operation) in other.operations {
            insert(operation, at: dot)
        }
    }

    public static func == (lhs: OperationLog, rhs: OperationLog) -> Bool {
        lhs.operations == rhs.operations
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(operations)
    }
}
