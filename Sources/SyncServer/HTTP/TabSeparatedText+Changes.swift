import CRDT
import Store

extension TabSeparatedText {
    /// The change feed's columns as tab-separated text (`GET /v1/changes?format=tsv`): the keys of a change-feed
    /// entry, in the order of `inv changes --format csv`. The answer's first row names them, so a reader can check
    /// it reads the columns it expects.
    public static let changeColumns = [
        "id", "type", "sku", "warehouse", "quantity", "delta", "origin", "sequence", "timestamp", "user", "reason",
        "reference", "transfer_id", "counterpart", "hlc", "document",
    ]

    /// A change-feed entry written straight from its stored row, as ``changeColumns`` names its fields: the values
    /// `API.Change(operation)` holds, with no operation, history entry or string built (``LedgerRowView``). A test
    /// compares the two on random operations.
    /// - Throws: ``InvalidUTF8`` for a stored text that is not UTF-8.
    mutating func change(_ row: LedgerRowView) throws {
        try row.withUTF8(.movementID) { id in
            guard id == nil else { return try field(utf8: id) }
            field("\(row.origin.rawValue):\(row.sequence)")
        }
        field(row.kind.rawValue)
        try row.withUTF8(.sku) { sku in try field(utf8: sku) }
        try row.withUTF8(.warehouse) { warehouse in try field(utf8: warehouse) }
        field(MovementRecord.quantity(kind: row.kind, delta: row.delta, returned: row.transferBackShipped))
        field(row.delta)
        field(row.origin.rawValue)
        field(row.sequence)
        timestampField(milliseconds: row.timestamp.physicalMilliseconds)
        try row.withUTF8(.actor) { actor in try field(utf8: actor) }
        try row.withUTF8(.reason) { reason in try field(utf8: reason) }
        try row.withUTF8(.reference) { reference in try field(utf8: reference) }
        try row.withUTF8(.transferID) { transfer in try field(utf8: transfer) }
        let end: MovementRecord.TransferEnd? = MovementRecord.counterpart(of: row.kind)
        try row.withUTF8(end == .destination ? .transferTo : .transferFrom) { counterpart in
            try field(utf8: end == nil ? nil : counterpart)
        }
        field(row.timestamp.rawValue)
        try row.withUTF8(.document) { document in try field(utf8: document) }
        endRow()
    }
}
