import CRDT

/// A stored operation read in place: its fields as byte ranges of the row body (``LedgerRowBody``), with no
/// string, no operation and no allocation built for it.
///
/// For readers that copy fields straight out. The change feed writes each entry's JSON from a view: decoding every
/// row into a ``LedgerOperation`` and then into a history entry cost a node serving a mirror's catch-up a third of
/// its CPU (8.9 µs per operation before, 5.95 µs after; docs/benchmarks.md, `export`). Everyone else decodes the
/// operation (``operation()``).
///
/// A view borrows the row's bytes: it is valid only inside the call that gives it, and must not be kept.
/// Texts are given as stored, not checked for UTF-8: a reader that writes them out checks them
/// (``operation()`` does).
public struct LedgerRowView {
    public let origin: ReplicaID
    public let sequence: UInt64
    private let body: UnsafeRawBufferPointer
    private let fields: LedgerRowBody.Fields

    /// The texts a view gives (``withUTF8(_:_:)``).
    public enum Text {
        case sku, movementID, warehouse, transferID, transferFrom, transferTo, actor, reason, reference, document
    }

    /// Parses `body` (bounds and structure only). `body` must outlive the view.
    /// - Throws: ``StoreError/storage(_:)`` for a body of another version, truncated or with trailing bytes.
    init(origin: ReplicaID, sequence: UInt64, body: UnsafeRawBufferPointer) throws(StoreError) {
        self.origin = origin
        self.sequence = sequence
        self.body = body
        fields = try LedgerRowBody.Fields(body)
    }

    public var timestamp: HLCTimestamp { HLCTimestamp(rawValue: fields.timestamp) }
    public var kind: OperationKind { fields.kind }
    public var delta: Int64 { fields.delta }
    /// What the transfer back of a return ships (``LedgerOperation/transferBack``).
    public var transferBackShipped: Int64? { fields.transferBack?.shipped }

    /// Calls `body` with the UTF-8 bytes of `text`, or `nil` when the operation has none. An id stored as 16 bytes is
    /// given as its canonical text.
    public func withUTF8<Result>(_ text: Text, _ body: (UnsafeRawBufferPointer?) throws -> Result) rethrows -> Result {
        switch text {
        case .sku: return try body(self.body[bytes: fields.sku])
        case .movementID: return try withIdentifier(fields.movementID, isUUID: fields.movementIDIsUUID, body)
        case .warehouse: return try body(fields.warehouse.map { self.body[bytes: $0] })
        case .transferID: return try withIdentifier(fields.transfer?.id, isUUID: fields.transfer?.idIsUUID ?? false, body)
        case .transferFrom: return try body(fields.transfer.map { self.body[bytes: $0.from] })
        case .transferTo: return try body(fields.transfer.map { self.body[bytes: $0.to] })
        case .actor: return try body(self.body[bytes: fields.actor])
        case .reason: return try body(fields.reason.map { self.body[bytes: $0] })
        case .reference: return try body(fields.reference.map { self.body[bytes: $0] })
        case .document: return try withIdentifier(fields.document, isUUID: fields.documentIsUUID, body)
        }
    }

    /// The whole operation, every text checked (``LedgerRowBody/decode(origin:sequence:body:)``).
    public func operation() throws -> LedgerOperation {
        try LedgerRowBody.decode(origin: origin, sequence: sequence, body: body)
    }

    private func withIdentifier<Result>(
        _ range: Range<Int>?, isUUID: Bool, _ body: (UnsafeRawBufferPointer?) throws -> Result
    ) rethrows -> Result {
        guard let range else { return try body(nil) }
        guard isUUID else { return try body(self.body[bytes: range]) }
        return try withUnsafeTemporaryAllocation(byteCount: 36, alignment: 1) { text in
            CanonicalUUIDText.write(self.body[bytes: range], into: text)
            return try body(UnsafeRawBufferPointer(text))
        }
    }
}

extension UnsafeRawBufferPointer {
    fileprivate subscript(bytes range: Range<Int>) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: self[range]) }
}
