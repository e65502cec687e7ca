import CRDT

/// Where ``LedgerApplier/materialize(_:from:in:events:rows:)`` writes the ledger rows of the operations it
/// materialises.
///
/// A row may wait (be deferred) only while nothing reads it: materialising a movement whose product no deletion
/// concerns reads no ledger row, whereas a product operation (a deletion looks for the product's movements) or a
/// movement checked against a deletion (it reads the deleting operation) may read rows of the same batch, so the
/// rows before it are written first.
protocol LedgerRowWriting {
    /// Writes the row of `op`, at `position` in the batch, before `op` is materialised; when `deferrable`, the row
    /// may wait until the next ``flush()``, and otherwise every row waiting is written first.
    mutating func write(_ op: LedgerOperation, at position: Int, deferrable: Bool) throws

    /// Writes every row still waiting.
    mutating func flush() throws
}

/// The rows of a local command's operation, which the command wrote itself.
struct RowsWrittenAlready: LedgerRowWriting {
    func write(_ op: LedgerOperation, at position: Int, deferrable: Bool) {}
    func flush() {}
}
