import CRDT
import GRDB

/// Materialisation: the one path by which operations change the materialised tables (products, reorder
/// overrides, transfer lines, stock counters, alerts, and the conflicts found on the way).
extension LedgerApplier {
    /// Where a batch under materialisation comes from.
    enum BatchSource {
        /// The operation a local command just recorded, with the counter and the product summary the command
        /// computed for it, when it has them (a movement), so that neither is read again.
        case local(counter: PNCounter?, product: ProductRecord.Summary?)
        /// Operations merged from peers, checked and accepted.
        case merged
    }

    /// Applies a batch of operations to the materialised tables and re-evaluates the alerts they touch.
    ///
    /// Every change of the materialised state goes through here, and only here: a local command's operation as a
    /// batch of one (``record(_:in:events:counter:product:)``), a merge's accepted operations as one batch
    /// (``applyBulk(_:knownTips:bodies:in:events:)``). The state is therefore a function of the set of operations
    /// held, whatever their arrival order or batching.
    ///
    /// Operation by operation, in order: its ledger row (`rows`), its product fields or reorder override (with
    /// the alerts a changed reorder point touches) and its transfer lines. Its stock-counter entry is folded with
    /// the batch's other entries of the same origin, SKU and warehouse; at the end each folded entry is written once
    /// (the pointwise max with the held one) and its alert evaluated once. A merged page of tens of thousands of
    /// movements thus costs one counter write per counter it touches, not one per operation.
    ///
    /// The batch's operations are announced first, before the alerts they cause: a local one as its own event, a
    /// merged batch as one slice (see ``CommittedEvents``).
    /// - Parameters:
    ///   - operations: the batch, in the order its rows are written.
    ///   - rows: writes each operation's ledger row, given its position in the batch, before it is materialised; a
    ///     movement's row may wait while nothing can read it (see ``LedgerRowWriting``); all are written before the
    ///     counters. A local operation's row is written already (``RowsWrittenAlready``).
    func materialize(
        _ operations: ArraySlice<LedgerOperation>, from source: BatchSource, in db: Database, events: inout CommittedEvents,
        rows: inout some LedgerRowWriting
    ) throws {
        // A local movement is on a live product (checked by its command): no conflict to look for, and its product
        // summary is known or read. A merged batch asks once whether any product is deleted, so that most batches
        // need no per-movement conflict lookup, and whether any reorder point exists, so that without one counters
        // are merged without reading products; a product operation inside the batch turns either on for the rest.
        var deletedProductsExist = false
        var reorderPointsExist = true
        switch source {
        case .local:
            for op in operations { events.append(.operation(op)) }
        case .merged:
            deletedProductsExist = try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM products WHERE deleted = 1)")) ?? true
            reorderPointsExist = try Bool.fetchOne(db.cachedStatement(sql: """
                SELECT EXISTS (SELECT 1 FROM products WHERE reorder_point IS NOT NULL) OR EXISTS (SELECT 1 FROM reorder_overrides)
                """)) ?? true
            events.append(merged: operations)
        }
        var counters = PerOrigin<[CounterTarget: CounterChange]>()
        // Each operation is handed to `fold` in place, `borrowing`, so that the compiler refuses any implicit copy:
        // binding it to a local, or capturing it in a closure, would copy (retain) every field of every operation.
        func fold(_ op: borrowing LedgerOperation, at position: Int) throws {
            // A plain movement reads no ledger row, unless it is checked against a deletion (which reads the
            // deleting operation's); a product operation's deletion reads its movements.
            let readsNoRow = op.product == nil && op.transfer == nil && op.transferBack == nil && !deletedProductsExist
            try rows.write(op, at: position, deferrable: readsNoRow)
            // Every origin is met in batch order, so counters are written origin by origin in that order.
            let slot = counters.index(of: op.origin) { [:] }
            if let entry = op.counter, let warehouse = op.warehouse {
                if deletedProductsExist { try ConflictDetector.movementOnDeletedProduct(op, in: db) }
                // One hash lookup, the entry changed in place: a zero entry is the identity of the pointwise max. The
                // timestamp is read out first: the default's autoclosure would capture (copy) the whole operation.
                let timestamp = op.timestamp
                counters.values[slot][CounterTarget(sku: op.sku, warehouse: warehouse), default: CounterChange(newest: timestamp)]
                    .add(entry, at: timestamp)
            } else if op.product != nil {
                try materializeProduct(op, in: db, events: &events)
                if op.product?.deleted == true { deletedProductsExist = true }
                // Only a reorder point being set (not one cleared, as every product created without one is).
                if case .some(.some) = op.product?.reorderPoint { reorderPointsExist = true }
            }
            if let transfer = op.transfer {
                try TransferRecord.merge(transfer, sku: op.sku, timestamp: op.timestamp, in: db)
            }
            if let back = op.transferBack {
                try TransferRecord.merge(back, sku: op.sku, timestamp: op.timestamp, in: db)
            }
        }
        // Through the buffer: an array's subscript hands `fold` a copy of the operation (a retain of each of its
        // texts), a buffer's a borrow.
        try operations.withUnsafeBufferPointer { buffer in
            for position in buffer.indices { try fold(buffer[position], at: position) }
        }
        try rows.flush()
        let upsert = try BoundStatement(db, sql: StockCounterRecord.mergeMaxSQL)
        // A merged entry whose counter has no alert to evaluate is read by nothing before the end: it waits to be
        // merged several per statement.
        var unread = CounterEntryBatch(in: db)
        for (origin, changes) in zip(counters.origins, counters.values) where !changes.isEmpty {
            // In key order: consecutive upserts then land on the same or the next leaf of `stock_counters`.
            for (target, change) in changes.sorted(by: { ($0.key.sku.rawValue, $0.key.warehouse.rawValue) < ($1.key.sku.rawValue, $1.key.warehouse.rawValue) }) {
                var product: ProductRecord.Summary?
                var counter: PNCounter?
                if case let .local(known, summary) = source {
                    (counter, product) = (known, summary)
                }
                if product == nil, reorderPointsExist {
                    product = try ProductRecord.summary(sku: target.sku, warehouse: target.warehouse, in: db)
                }
                if case .merged = source, Self.alertingPoint(of: product) == nil {
                    try unread.queue(change.entry, newest: change.newest, sku: target.sku, warehouse: target.warehouse, replica: origin)
                } else {
                    try unread.flush()
                    try materialize(
                        change, of: origin, into: target, product: product, counter: counter, using: upsert, in: db, events: &events)
                }
            }
        }
        try unread.flush()
        if reportsStock { try recordStock(of: counters, from: source, in: db, events: &events) }
    }

    /// Appends the stock of each counter the batch changed, as the batch leaves it: known already for a local
    /// movement, else one read of the counter (its entries are all written by now).
    private func recordStock(
        of counters: PerOrigin<[CounterTarget: CounterChange]>, from source: BatchSource, in db: Database,
        events: inout CommittedEvents
    ) throws {
        var targets = Set<CounterTarget>()
        for changes in counters.values { targets.formUnion(changes.keys) }
        for target in targets {
            let known: PNCounter? = if case .local(let counter, _) = source { counter } else { nil }
            let onHand = try known?.value
                ?? StockCounterRecord.onHand(sku: target.sku.rawValue, warehouse: target.warehouse.rawValue, in: db)
            events.append(stock: onHand, sku: target.sku, warehouse: target.warehouse)
        }
    }

    /// The reorder point a counter's alert is evaluated against: none without a product summary (no reorder point
    /// anywhere), without a reorder point, or for a deleted product.
    private static func alertingPoint(of product: ProductRecord.Summary?) -> Int64? {
        guard let product, !product.deleted else { return nil }
        return product.reorderPoint
    }

    /// Applies a product or reorder-override operation's registers, and re-evaluates the alerts of its SKU when
    /// they change its reorder point or deletion.
    private func materializeProduct(_ op: LedgerOperation, in db: Database, events: inout CommittedEvents) throws {
        cache.forgetProduct(op.sku)
        if op.kind == .reorderOverride, let warehouse = op.warehouse, let patch = op.product, let point = patch.reorderPoint {
            let incoming = ReorderOverrideRecord(
                sku: op.sku, warehouse: warehouse, reorderPoint: point, timestamp: op.timestamp, replica: op.origin)
            if try ReorderOverrideRecord.merge(incoming, in: db),
                let metadata = try ProductRecord.metadata(sku: op.sku, in: db)
            {
                try reevaluateAlerts(sku: op.sku, product: metadata, origin: op.origin, in: db, events: &events)
            }
        } else if let patch = op.product {
            var metadata = try ProductRecord.metadata(sku: op.sku, in: db) ?? ProductMetadata()
            var delta = ProductMetadata()
            delta.apply(patch, at: op.timestamp, by: op.origin)
            if op.origin != replica { try ConflictDetector.productFields(incoming: op, delta: delta, held: metadata, in: db) }
            let before = metadata
            metadata.merge(delta)
            if metadata != before {
                try ProductRecord.save(metadata, sku: op.sku, barcodesBefore: before.currentBarcodes, in: db)
                if metadata.reorderPoint != before.reorderPoint || metadata.isDeleted != before.isDeleted,
                    try Self.alertsMayChange(sku: op.sku, reorderPoint: metadata.reorderPoint?.value ?? nil, in: db)
                {
                    try reevaluateAlerts(sku: op.sku, product: metadata, origin: op.origin, in: db, events: &events)
                }
            }
        }
    }

    /// Whether re-evaluating the alerts of `sku` could change any, its product's reorder point being `reorderPoint`
    /// now: not when no warehouse has a reorder point for it (none of the product's, no override) and no alert of it
    /// stands, for then every warehouse's alert is absent before and after. A product created without a reorder
    /// point (every product of a catalogue import, say) thus costs no alert query.
    private static func alertsMayChange(sku: SKU, reorderPoint: Int64?, in db: Database) throws -> Bool {
        guard reorderPoint == nil else { return true }
        return try Bool.fetchOne(db.cachedStatement(sql: """
            SELECT EXISTS (SELECT 1 FROM alerts WHERE sku = ?1) OR EXISTS (SELECT 1 FROM reorder_overrides WHERE sku = ?1)
            """), arguments: [sku.rawValue]) ?? true
    }

    /// Writes one origin's folded entry of a stock counter, the pointwise max with the held one, and evaluates the
    /// counter's alert when a reorder point applies.
    /// - Parameters:
    ///   - product: the product as the counter's warehouse sees it; `nil` when no reorder point exists anywhere.
    ///   - counter: the whole counter after the change, when the caller knows it; read otherwise.
    private func materialize(
        _ change: CounterChange, of origin: ReplicaID, into target: CounterTarget, product: ProductRecord.Summary?,
        counter: PNCounter?, using upsert: BoundStatement, in db: Database, events: inout CommittedEvents
    ) throws {
        try StockCounterRecord.mergeMax(
            change.entry, newest: change.newest, sku: target.sku, warehouse: target.warehouse, replica: origin, using: upsert)
        // Without a reorder point there is no alert to raise or clear: a change of the reorder point re-evaluates
        // every warehouse (see `reevaluateAlerts`).
        guard let reorderPoint = Self.alertingPoint(of: product) else { return }
        let quantity = try counter?.value ?? StockCounterRecord.counter(sku: target.sku, warehouse: target.warehouse, in: db).value
        try evaluateAlert(
            sku: target.sku, warehouse: target.warehouse.rawValue, quantity: quantity, reorderPoint: reorderPoint,
            in: db, events: &events)
    }

    /// One origin's entry of a counter as a batch leaves it, and the newest of the batch's operations on it.
    fileprivate struct CounterChange {
        var entry = PNCounter.Entry()
        var newest: HLCTimestamp

        mutating func add(_ other: PNCounter.Entry, at timestamp: HLCTimestamp) {
            entry = entry.joined(with: other)
            newest = max(newest, timestamp)
        }
    }

    /// A stock counter: a product in a warehouse.
    fileprivate struct CounterTarget: Hashable {
        var sku: SKU
        var warehouse: ReplicaID
    }
}
