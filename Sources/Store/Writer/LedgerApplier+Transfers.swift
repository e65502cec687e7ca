import CRDT
import GRDB

extension LedgerApplier {
    /// Accepts or returns goods in transit on the lines of a transfer: every line with goods in transit, or part of
    /// one (`request.sku`, `request.quantity`), one movement per line, all in the command's savepoint or none.
    ///
    /// Goods in transit belong to the destination's decision alone: only its node accepts or returns them, and it
    /// alone writes a line's `accepted` and `returned`, so checking `accepted + returned <= shipped` here, in the
    /// single writer, keeps them from being counted twice with no coordination, even while the source is offline.
    /// A return records no stock change: its `transferBack` ships what is returned from the destination back to the
    /// source, as a transfer (one line per SKU, identified by the request's id) that the source accepts like any.
    ///
    /// The movement of a single line has the request's id; with several lines each has
    /// ``MovementID/line(of:sku:)``. A request whose id was recorded already answers those movements (`duplicate`).
    /// - Throws: ``StoreError``: an unknown transfer or line, not the destination, more than is in transit, a return
    ///   without a reason.
    mutating func transferLines(
        _ request: TransferLinesRequest, returning: Bool, in db: Database, events: inout CommittedEvents
    ) throws -> WriteOutcome {
        try Self.validateCommon(id: request.id, actor: request.actor, reason: request.reason, reference: request.reference)
        if let quantity = request.quantity { try Quantity.validate(quantity) }
        if returning, request.reason?.trimmingSpaces.isEmpty ?? true {
            throw StoreError.invalidInput("a return needs a reason")
        }
        let kind: OperationKind = returning ? .transferReturn : .accept
        let lines = try TransferRecord.lines(id: request.transferID, in: db).filter { $0.shipped > 0 }
        guard !lines.isEmpty else { throw StoreError.unknownTransfer(request.transferID) }
        if let recorded = try recordedMovements(of: request, kind: kind, lines: lines, in: db) {
            return .transferLines(recorded, duplicate: true)
        }
        guard lines[0].to == replica.rawValue else {
            throw StoreError.notDestination(transfer: request.transferID, destination: lines[0].to)
        }
        var selected: [TransferRecord]
        if let sku = request.sku {
            guard let line = lines.first(where: { $0.sku == sku.rawValue })
                ?? lines.first(where: { $0.sku.lowercased() == sku.rawValue.lowercased() })
            else { throw StoreError.unknownTransferLine(transfer: request.transferID, sku: sku.rawValue) }
            selected = [line]
        } else {
            selected = lines.filter { $0.inTransit > 0 }
            if selected.isEmpty { selected = [lines[0]] }
            if request.quantity != nil, lines.count > 1 {
                throw StoreError.invalidInput("transfer \(request.transferID) has \(lines.count) lines: name the sku to take part of one")
            }
        }
        let source: ReplicaID
        do { source = try ReplicaID(lines[0].from) } catch { throw StoreError.storage("bad warehouse id \(lines[0].from)") }
        var movements: [MovementRecord] = []
        for line in selected {
            let quantity = request.quantity ?? line.inTransit
            guard quantity >= 1, quantity <= line.inTransit else {
                if returning {
                    throw StoreError.overReturn(transfer: line.id, sku: line.sku, inTransit: line.inTransit, requested: quantity)
                }
                throw StoreError.overAccept(transfer: line.id, inTransit: line.inTransit, requested: quantity)
            }
            let sku = try SKU(line.sku)
            let movementID = selected.count == 1 ? request.id : MovementID.line(of: request.id, sku: sku)
            // Goods in transit are taken even if the product was deleted meanwhile: no movement is ever dropped.
            let product = try ownSummary(sku, in: db)
            var counter = try ownCounter(sku, in: db)
            let isLine = line.isLine
            let op: LedgerOperation
            if returning {
                op = LedgerOperation(
                    origin: replica, sequence: nextSequence, timestamp: clock.now(), kind: .transferReturn, sku: sku,
                    movementID: movementID, warehouse: replica, delta: 0, counter: counter.entry(for: replica),
                    transfer: TransferDelta(
                        id: line.id, from: source, to: replica, returned: line.returned + quantity, isLine: isLine),
                    actor: request.actor, reason: request.reason, reference: request.reference,
                    transferBack: TransferDelta(id: request.id, from: replica, to: source, shipped: quantity, isLine: true))
            } else {
                if counter.value > Int64.max - quantity { throw StoreError.overflow }
                do { try counter.increment(by: UInt64(quantity), replica: replica) } catch { throw StoreError.overflow }
                op = LedgerOperation(
                    origin: replica, sequence: nextSequence, timestamp: clock.now(), kind: .accept, sku: sku,
                    movementID: movementID, warehouse: replica, delta: quantity, counter: counter.entry(for: replica),
                    transfer: TransferDelta(
                        id: line.id, from: source, to: replica, accepted: line.accepted + quantity, isLine: isLine),
                    actor: request.actor, reason: request.reason, reference: request.reference)
            }
            try record(op, in: db, events: &events, counter: counter, product: product)
            cache.remember(counter, for: sku)
            movements.append(MovementRecord(op))
        }
        return .transferLines(movements, duplicate: false)
    }

    /// The movements a request with this id recorded already, if any; a different request with the same id is
    /// refused.
    private func recordedMovements(
        of request: TransferLinesRequest, kind: OperationKind, lines: [TransferRecord], in db: Database
    ) throws -> [MovementRecord]? {
        var candidates = [request.id]
        for line in lines { candidates.append(MovementID.line(of: request.id, sku: try SKU(line.sku))) }
        var found: [MovementRecord] = []
        for id in candidates {
            guard let original = try ownMovement(id: id, in: db) else { continue }
            let quantity = kind == .accept ? original.delta : original.transferBack?.shipped
            guard original.kind == kind, original.transfer?.id == request.transferID,
                  request.sku == nil || original.sku.rawValue.lowercased() == request.sku!.rawValue.lowercased(),
                  request.quantity == nil || quantity == request.quantity
            else { throw StoreError.idempotencyConflict(id: request.id) }
            found.append(MovementRecord(original))
        }
        return found.isEmpty ? nil : found
    }
}
