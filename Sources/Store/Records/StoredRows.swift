import CRDT

/// Ledger rows as stored: each operation's dot and its row body (``LedgerRowBody``), the bodies end to end.
///
/// An operation is encoded once, at its origin. A node sends its peers these bytes as they are (a page of
/// operations carries them, ``LedgerOperationCodec``), and a receiver hashes and stores the bytes it received:
/// nothing decodes and re-encodes an operation on its way, and the chain hashes of every node are over the very
/// bytes the origin signed.
public struct StoredRows: Sendable {
    /// Each row's `(origin, sequence)`, by position. Not ``Dot``s: a batch being encoded may come from a caller
    /// that checks nothing, and the decoder refuses a sequence out of range.
    private(set) var keys: [(origin: ReplicaID, sequence: UInt64)] = []
    private(set) var bodies = EncodedBodies()

    public init() {}

    /// The rows of `operations`, each body encoded as the origin stores it.
    public init(_ operations: some Collection<LedgerOperation>) throws {
        keys.reserveCapacity(operations.count)
        bodies.reserve(operations.count)
        var buffer = ByteWriter(format: LedgerRowBody.version)
        for op in operations {
            try LedgerRowBody.encode(op, into: &buffer)
            append(origin: op.origin, sequence: op.sequence, body: buffer.bytes)
        }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// The dots of the rows, by position (rows read from a ledger, whose sequences start at 1).
    public var dots: [Dot] { keys.map { Dot(origin: $0.origin, sequence: $0.sequence) } }

    mutating func append(origin: ReplicaID, sequence: UInt64, body: some Sequence<UInt8>) {
        keys.append((origin, sequence))
        bodies.append(body)
        bodies.endOperation()
    }

    mutating func append(contentsOf other: StoredRows) {
        if isEmpty {
            self = other
            return
        }
        for (position, key) in other.keys.enumerated() {
            append(origin: key.origin, sequence: key.sequence, body: other.body(at: position))
        }
    }

    /// The body of the row at `position`.
    func body(at position: Int) -> ArraySlice<UInt8> { bodies[position] ?? [] }

    /// Keeps the first `count` rows.
    mutating func keepFirst(_ count: Int) {
        guard count < keys.count else { return }
        keys.removeLast(keys.count - count)
        bodies.keepFirst(count)
    }

    /// Every row decoded.
    public func operations() throws -> [LedgerOperation] {
        try keys.enumerated().map { position, key in
            try LedgerRowBody.decode(origin: key.origin, sequence: key.sequence, body: Array(body(at: position)))
        }
    }
}

/// Row bodies of a batch's operations, by position, in one buffer.
public struct EncodedBodies: Sendable {
    private var bytes: [UInt8] = []
    private var ends: [Int] = []

    public init() {}

    mutating func reserve(_ operations: Int) {
        ends.reserveCapacity(operations)
        bytes.reserveCapacity(operations * 96)
    }

    /// Empties the buffer, keeping its storage.
    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
    }

    mutating func append(_ body: some Sequence<UInt8>) { bytes.append(contentsOf: body) }

    /// Closes the current operation's body (empty when nothing was appended).
    mutating func endOperation() { ends.append(bytes.count) }

    var count: Int { ends.count }

    /// The body of the operation at `position`, `nil` when it was not encoded.
    subscript(position: Int) -> ArraySlice<UInt8>? {
        range(at: position).map { bytes[$0] }
    }

    /// Where the body of the operation at `position` lies in the buffer ``withUnsafeBytes(_:)`` lends, `nil` when it
    /// was not encoded.
    func range(at position: Int) -> Range<Int>? {
        guard position < ends.count else { return nil }
        let start = position == 0 ? 0 : ends[position - 1]
        return start == ends[position] ? nil : start..<ends[position]
    }

    /// Lends every body at once, in one buffer (see ``range(at:)``).
    func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try bytes.withUnsafeBytes(body)
    }

    /// Keeps the bodies of the first `count` operations.
    mutating func keepFirst(_ count: Int) {
        guard count < ends.count else { return }
        ends.removeLast(ends.count - count)
        bytes.removeLast(bytes.count - (ends.last ?? 0))
    }
}
