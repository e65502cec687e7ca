import CRDT
import GRDB

/// Local commands: products, reorder overrides and movements of this node's warehouse, validated against the state
/// this node holds and recorded as operations (see ``record(_:in:events:counter:product:)``).
extension LedgerApplier {
    // MARK: - Products

    mutating func createProduct(_ draft: ProductDraft, actor: String, in db: Database, events: inout CommittedEvents) throws -> WriteOutcome {
        try TextLimits.validate(draft.name, field: "name", limit: TextLimits.name, allowEmpty: false)
        try TextLimits.validate(draft.description, field: "description", limit: TextLimits.description)
        try TextLimits.validate(actor, field: "user", limit: TextLimits.actor, allowEmpty: false)
        if let point = draft.reorderPoint { try Self.validateReorderPoint(point) }
        if let existing = try ProductRecord.metadata(sku: draft.sku, in: db), existing.name != nil, !existing.isDeleted {
            throw StoreError.productExists(draft.sku.rawValue)
        }
        // Only local creation is refused: two such products created offline on two nodes meet in a merge, which
        // keeps both (a merge never refuses) and `inv conflicts` reports them.
        let sameButCase = try db.cachedStatement(sql: """
            SELECT sku FROM products WHERE sku = ? COLLATE NOCASE AND sku <> ? AND name IS NOT NULL AND deleted = 0 LIMIT 1
            """)
        if let existing = try String.fetchOne(sameButCase, arguments: [draft.sku.rawValue, draft.sku.rawValue]) {
            throw StoreError.skuDiffersOnlyByCase(sku: draft.sku.rawValue, existing: existing)
        }
        let barcodes = try Self.validateBarcodes(draft.barcodes ?? [], of: draft.sku, in: db)
        let patch = ProductPatch(
            name: draft.name, description: draft.description, price: .some(draft.price?.rawValue),
            reorderPoint: .some(draft.reorderPoint), deleted: false, barcodes: barcodes.isEmpty ? nil : barcodes)
        return .product(try recordProductOperation(.productCreate, sku: draft.sku, patch: patch, actor: actor, in: db, events: &events))
    }

    mutating func updateProduct(_ sku: SKU, _ patch: ProductPatch, actor: String, in db: Database, events: inout CommittedEvents) throws -> WriteOutcome {
        if let name = patch.name { try TextLimits.validate(name, field: "name", limit: TextLimits.name, allowEmpty: false) }
        if let description = patch.description {
            try TextLimits.validate(description, field: "description", limit: TextLimits.description)
        }
        if let price = patch.price, let price { _ = try Price(price) }
        if let point = patch.reorderPoint, let point { try Self.validateReorderPoint(point) }
        try TextLimits.validate(actor, field: "user", limit: TextLimits.actor, allowEmpty: false)
        guard patch.deleted == nil else { throw StoreError.invalidInput("use delete to remove a product") }
        guard patch.name != nil || patch.description != nil || patch.price != nil || patch.reorderPoint != nil || patch.barcodes != nil else {
            throw StoreError.invalidInput("nothing to update: give at least one field")
        }
        _ = try liveProduct(sku, in: db)
        var patch = patch
        if let barcodes = patch.barcodes { patch.barcodes = try Self.validateBarcodes(barcodes, of: sku, in: db) }
        return .product(try recordProductOperation(.productUpdate, sku: sku, patch: patch, actor: actor, in: db, events: &events))
    }

    mutating func deleteProduct(_ sku: SKU, actor: String, in db: Database, events: inout CommittedEvents) throws -> WriteOutcome {
        try TextLimits.validate(actor, field: "user", limit: TextLimits.actor, allowEmpty: false)
        _ = try liveProduct(sku, in: db)
        let patch = ProductPatch(deleted: true)
        return .product(try recordProductOperation(.productDelete, sku: sku, patch: patch, actor: actor, in: db, events: &events))
    }

    mutating func setReorderOverride(
        _ sku: SKU, warehouse: ReplicaID, reorderPoint: Int64?, actor: String, in db: Database, events: inout CommittedEvents
    ) throws -> WriteOutcome {
        try TextLimits.validate(actor, field: "user", limit: TextLimits.actor, allowEmpty: false)
        if let reorderPoint { try Self.validateReorderPoint(reorderPoint) }
        // Only for a warehouse of the cluster (a local rule: a merged override is kept whatever its warehouse).
        if warehouse != replica { try Self.checkDestination(warehouse, in: db) }
        _ = try liveProduct(sku, in: db)
        let op = LedgerOperation(
            origin: replica, sequence: nextSequence, timestamp: clock.now(), kind: .reorderOverride, sku: sku,
            warehouse: warehouse, product: ProductPatch(reorderPoint: .some(reorderPoint)), actor: actor,
            context: try currentVersionVector(in: db))
        try record(op, in: db, events: &events)
        guard let metadata = try ProductRecord.metadata(sku: sku, in: db) else { throw StoreError.storage("product vanished") }
        return .product(ProductState(sku: sku, metadata: metadata))
    }

    private mutating func recordProductOperation(
        _ kind: OperationKind, sku: SKU, patch: ProductPatch, actor: String, in db: Database, events: inout CommittedEvents
    ) throws -> ProductState {
        let op = LedgerOperation(
            origin: replica, sequence: nextSequence, timestamp: clock.now(), kind: kind, sku: sku, product: patch,
            actor: actor, context: try currentVersionVector(in: db))
        try record(op, in: db, events: &events)
        guard let metadata = try ProductRecord.metadata(sku: sku, in: db) else { throw StoreError.storage("product vanished") }
        return ProductState(sku: sku, metadata: metadata)
    }

    // MARK: - Movements

    /// Records a movement; `document`: for a line of a document, the document's id (for a transfer document, also
    /// the transfer it ships under).
    mutating func movement(
        _ request: MovementRequest, document: (id: String, type: DocumentType)? = nil, in db: Database,
        events: inout CommittedEvents
    ) throws -> WriteOutcome {
        try Self.validateCommon(id: request.id, actor: request.actor, reason: request.reason, reference: request.reference)
        if request.type == .adjust { try Quantity.validateDelta(request.quantity) } else { try Quantity.validate(request.quantity) }
        if request.type == .adjust, request.reason?.trimmingSpaces.isEmpty ?? true {
            throw StoreError.invalidInput("an adjustment needs a reason")
        }
        try validateDestination(request.to, isTransfer: request.type == .transfer)
        if let original = try ownMovement(id: request.id, in: db) {
            let same = original.kind.rawValue == request.type.rawValue && original.sku == request.sku
                && (request.type == .adjust ? original.delta == request.quantity : original.delta.magnitude == request.quantity.magnitude)
                && original.transfer?.to == request.to
            guard same else { throw StoreError.idempotencyConflict(id: request.id) }
            return .movement(MovementRecord(original), duplicate: true)
        }
        let product = try ownSummary(request.sku, in: db)
        guard product.exists else { throw StoreError.unknownSKU(request.sku.rawValue) }
        guard !product.deleted else { throw StoreError.productDeleted(request.sku.rawValue) }
        var counter = try ownCounter(request.sku, in: db)
        let delta: Int64
        switch request.type {
        case .receive: delta = request.quantity
        case .sell, .transfer: delta = -request.quantity
        case .adjust: delta = request.quantity
        }
        if delta < 0, counter.value < -delta, request.type == .adjust {
            throw StoreError.adjustmentBelowZero(sku: request.sku.rawValue, warehouse: replica.rawValue, onHand: counter.value, delta: delta)
        }
        if delta < 0, counter.value < -delta {
            throw StoreError.insufficientStock(
                sku: request.sku.rawValue, warehouse: replica.rawValue, onHand: counter.value, requested: -delta)
        }
        if delta > 0, counter.value > Int64.max - delta { throw StoreError.overflow }
        if let destination = request.to { try Self.checkDestination(destination, in: db) }
        do {
            if delta > 0 { try counter.increment(by: UInt64(delta), replica: replica) } else {
                try counter.decrement(by: UInt64(-delta), replica: replica)
            }
        } catch { throw StoreError.overflow }
        let kind = OperationKind(rawValue: request.type.rawValue)!
        let sequence = nextSequence
        // A transfer document ships all its lines under one transfer: the document's id.
        let transferID = document?.type == .transfer ? document?.id : nil
        let transfer = request.type == .transfer
            ? TransferDelta(
                id: transferID ?? request.id, from: replica, to: request.to!, shipped: request.quantity, isLine: transferID != nil)
            : nil
        let op = LedgerOperation(
            origin: replica, sequence: sequence, timestamp: clock.now(), kind: kind, sku: request.sku,
            movementID: request.id, warehouse: replica, delta: delta, counter: counter.entry(for: replica),
            transfer: transfer, actor: request.actor, reason: request.reason, reference: request.reference,
            document: document?.id)
        try record(op, in: db, events: &events, counter: counter, product: product)
        cache.remember(counter, for: request.sku)
        return .movement(MovementRecord(op), duplicate: false)
    }

    /// Accepts a transfer: every open line, or `quantity` of its only line (see ``transferLines(_:returning:in:events:)``).
    mutating func accept(_ request: AcceptRequest, in db: Database, events: inout CommittedEvents) throws -> WriteOutcome {
        let lines = TransferLinesRequest(
            transferID: request.transferID, quantity: request.quantity, reason: request.reason, reference: request.reference,
            id: request.id, actor: request.actor)
        let outcome = try transferLines(lines, returning: false, in: db, events: &events)
        if case let .transferLines(movements, duplicate) = outcome, movements.count == 1 {
            return .movement(movements[0], duplicate: duplicate)
        }
        return outcome
    }

    // MARK: - Lookups and checks

    /// This warehouse's view of a product, from the cache or the database.
    func ownSummary(_ sku: SKU, in db: Database) throws -> ProductRecord.Summary {
        if let known = cache.product(sku) { return known }
        let summary = try ProductRecord.summary(sku: sku, warehouse: replica, in: db)
        cache.remember(summary, for: sku)
        return summary
    }

    /// This warehouse's counter of a product, from the cache or the database.
    func ownCounter(_ sku: SKU, in db: Database) throws -> PNCounter {
        if let known = cache.counter(sku) { return known }
        return try StockCounterRecord.counter(sku: sku, warehouse: replica, in: db)
    }

    private func liveProduct(_ sku: SKU, in db: Database) throws -> ProductMetadata {
        guard let metadata = try ProductRecord.metadata(sku: sku, in: db), metadata.name != nil else {
            throw StoreError.unknownSKU(sku.rawValue)
        }
        guard !metadata.isDeleted else { throw StoreError.productDeleted(sku.rawValue) }
        return metadata
    }

    /// The movement this node recorded under `id`, if any. Nearly every lookup finds none (ids are fresh UUIDs
    /// unless a client retries), so a bare existence probe comes first: reading a row through GRDB cost several
    /// times the probe.
    func ownMovement(id: String, in db: Database) throws -> LedgerOperation? {
        let probe = try BoundStatement(db, sql: "SELECT 1 FROM movement_index WHERE movement_id = ? AND origin = ?")
        guard try probe.hasRow({ row in
            row.text(id)
            row.text(replica.rawValue)
        }) else { return nil }
        let statement = try db.cachedStatement(sql: LedgerIndexes.ownMovementSQL)
        guard let row = try Row.fetchOne(statement, arguments: [id, replica.rawValue]) else { return nil }
        return try OperationRecord.operation(from: row)
    }

    static func validateCommon(id: String, actor: String, reason: String?, reference: String?) throws(StoreError) {
        guard MovementID.isValid(id) else { throw .invalidInput("movement id must be a UUID, got \(id.debugDescription.prefix(60))") }
        try TextLimits.validate(actor, field: "user", limit: TextLimits.actor, allowEmpty: false)
        if let reason { try TextLimits.validate(reason, field: "reason", limit: TextLimits.reason) }
        if let reference { try TextLimits.validate(reference, field: "reference", limit: TextLimits.reference) }
    }

    /// Refuses a transfer without a destination or to this very warehouse, and a destination on anything else.
    func validateDestination(_ to: ReplicaID?, isTransfer: Bool) throws(StoreError) {
        if isTransfer {
            guard let to else { throw .invalidInput("a transfer needs a destination warehouse (to)") }
            guard to != replica else { throw .invalidInput("a transfer must go to another warehouse") }
        } else if to != nil {
            throw .invalidInput("only a transfer takes a destination (to)")
        }
    }

    static func validateReorderPoint(_ point: Int64) throws(StoreError) {
        guard (0...Quantity.range.upperBound).contains(point) else {
            throw .invalidInput("reorder point must be from 0 to \(Quantity.range.upperBound), got \(point)")
        }
    }
}
