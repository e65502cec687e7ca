import CRDT
import GRDB

extension LedgerApplier {
    /// Records a document: each distinct SKU of its lines becomes one movement of this warehouse, through
    /// ``movement(_:in:events:)`` like a single request, so the ledger, counters, alerts, events and peers see
    /// ordinary movements. Then the document itself is stored, naming each line's movement.
    ///
    /// All or nothing: any refusal is thrown as ``StoreError/onLine(_:_:)`` naming the line (from 1), and the
    /// writer rolls the command's savepoint back, so no line of a refused document is kept. A `count` line's
    /// adjustment is counted minus the stock on hand here when the count started (``DocumentRequest/countStartedAt``,
    /// else its submission): this warehouse's stock moves only by this node's operations, so the stock then is the
    /// stock now less what this node's operations since changed. Sales recorded while shelves were being counted are
    /// not undone. A line already right records nothing.
    ///
    /// Idempotent by document id: the same id again answers the stored document (`duplicate`), whatever the stock
    /// is now; the same id with other lines is refused.
    /// - Throws: ``StoreError``; refusals about one line as ``StoreError/onLine(_:_:)``.
    /// - Complexity: one movement per distinct SKU, O(lines) otherwise.
    mutating func document(_ request: DocumentRequest, in db: Database, events: inout CommittedEvents) throws -> WriteOutcome {
        guard MovementID.isValid(request.id) else {
            throw StoreError.invalidInput("document id must be a UUID, got \(request.id.debugDescription.prefix(60))")
        }
        try Self.validateCommon(id: request.id, actor: request.actor, reason: request.reason, reference: request.reference)
        guard !request.lines.isEmpty else { throw StoreError.invalidInput("a document needs at least one line") }
        guard request.lines.count <= DocumentRequest.maxLines else {
            throw StoreError.invalidInput("a document holds at most \(DocumentRequest.maxLines) lines, got \(request.lines.count)")
        }
        guard request.movementIDs.count == request.lines.count else {
            throw StoreError.invalidInput("a document needs one movement id per line")
        }
        try validateDestination(request.to, isTransfer: request.type == .transfer)
        let groups = try Self.group(try Self.resolvingCase(request, in: db))
        if let stored = try DocumentRecord.fetch(id: request.id, in: db) {
            let same = stored.type == request.type && stored.to == request.to?.rawValue
                && stored.lines.map(\.sku) == groups.map(\.sku.rawValue) && stored.lines.map(\.quantity) == groups.map(\.quantity)
            guard same else { throw StoreError.idempotencyConflict(id: request.id) }
            return .document(stored, duplicate: true)
        }
        if let destination = request.to { try Self.checkDestination(destination, in: db) }
        if request.countStartedAt != nil, request.type != .count {
            throw StoreError.invalidInput("only a count takes the time it started")
        }
        let changedSinceStart = try request.countStartedAt.map { try stockChanges(since: $0, in: db) } ?? [:]
        var lines: [DocumentRecord.Line] = []
        lines.reserveCapacity(groups.count)
        var firstTimestamp: HLCTimestamp?
        for group in groups {
            do {
                let line = try documentLine(
                    group, of: request, changedSinceStart: changedSinceStart[group.sku.rawValue] ?? 0, in: db, events: &events)
                if firstTimestamp == nil, let timestamp = line.timestamp { firstTimestamp = timestamp }
                lines.append(line.line)
            } catch let error as StoreError {
                throw StoreError.onLine(group.line(for: error), error)
            }
        }
        let record = DocumentRecord(
            id: request.id, type: request.type, warehouse: replica.rawValue, to: request.to?.rawValue, reason: request.reason,
            reference: request.reference, timestamp: firstTimestamp ?? clock.now(), user: request.actor, lines: lines)
        try record.insert(in: db)
        return .document(record, duplicate: false)
    }

    /// How much each SKU's stock at this warehouse changed through this node's operations after `start`: read
    /// from this node's newest operation backwards until one at or before `start`, so the cost is the operations
    /// since then, not the ledger.
    func stockChanges(since start: HLCTimestamp, in db: Database) throws -> [String: Int64] {
        var changes: [String: Int64] = [:]
        let rows = try Row.fetchCursor(db.cachedStatement(sql: """
            SELECT ledger_hlc(body), ledger_sku(body), ledger_warehouse(body), ledger_delta(body)
            FROM ledger WHERE origin = ? ORDER BY sequence DESC
            """), arguments: [replica.rawValue])
        while let row = try rows.next() {
            guard (row[0] as Int64) > Int64(bitPattern: start.rawValue) else { break }
            guard let sku = row[1] as String?, row[2] as String? == replica.rawValue, let delta = row[3] as Int64? else { continue }
            changes[sku, default: 0] += delta
        }
        return changes
    }

    /// The lines of one SKU: summed (receive, sell, transfer), with where each came from.
    struct DocumentGroup {
        var sku: SKU
        var quantity: Int64
        /// The line numbers (from 1) that named this SKU, with each line's quantity.
        var lines: [(number: Int, quantity: Int64)]
        var movementID: String

        /// The line a refusal names: for too little stock, the first line whose running total goes beyond what
        /// is on hand; otherwise the SKU's first line.
        func line(for error: StoreError) -> Int {
            if case let .insufficientStock(_, _, onHand, _) = error {
                var total: Int64 = 0
                for line in lines {
                    total += line.quantity
                    if total > onHand { return line.number }
                }
            }
            return lines[0].number
        }
    }

    /// `request` with each line's SKU written as the product it names: itself when a product has exactly that SKU,
    /// else the product holding it as a barcode, else the one live product whose SKU differs from it only by case
    /// (as every command finds a product in any case). A SKU naming no product is left as it is, for its line to be
    /// refused.
    static func resolvingCase(_ request: DocumentRequest, in db: Database) throws -> DocumentRequest {
        let exact = try db.cachedStatement(sql: "SELECT 1 FROM products WHERE sku = ? AND name IS NOT NULL")
        let folded = try db.cachedStatement(sql: """
            SELECT sku FROM products WHERE sku = ? COLLATE NOCASE AND name IS NOT NULL AND deleted = 0 LIMIT 2
            """)
        var resolved: [SKU: SKU] = [:]
        var request = request
        for index in request.lines.indices {
            let typed = request.lines[index].sku
            if let known = resolved[typed] {
                request.lines[index].sku = known
                continue
            }
            var product = typed
            if try Bool.fetchOne(exact, arguments: [typed.rawValue]) == nil {
                if let holder = try ProductRecord.resolve(typed.rawValue, in: db), let match = try? SKU(holder) {
                    product = match
                } else {
                    let matches = try String.fetchAll(folded, arguments: [typed.rawValue])
                    if matches.count == 1, let match = try? SKU(matches[0]) { product = match }
                }
            }
            resolved[typed] = product
            request.lines[index].sku = product
        }
        return request
    }

    /// Checks every line's quantity and groups the lines by SKU in order of first appearance.
    /// - Throws: ``StoreError/onLine(_:_:)``: a quantity out of range, a sum beyond the range, a SKU counted twice.
    static func group(_ request: DocumentRequest) throws(StoreError) -> [DocumentGroup] {
        var groups: [DocumentGroup] = []
        var position: [SKU: Int] = [:]
        for (index, line) in request.lines.enumerated() {
            let number = index + 1
            if request.type == .count {
                guard (0...Quantity.range.upperBound).contains(line.quantity) else {
                    throw .onLine(number, .invalidInput("a counted quantity must be a whole number from 0 to \(Quantity.range.upperBound), got \(line.quantity)"))
                }
            } else {
                do { try Quantity.validate(line.quantity) } catch { throw .onLine(number, error) }
            }
            guard MovementID.isValid(request.movementIDs[index]) else {
                throw .onLine(number, .invalidInput("movement id must be a UUID"))
            }
            if let existing = position[line.sku] {
                if request.type == .count {
                    throw .onLine(number, .invalidInput("\(line.sku) is counted twice (lines \(groups[existing].lines[0].number) and \(number)); give one count per product"))
                }
                let total = groups[existing].quantity + line.quantity
                do { try Quantity.validate(total) } catch { throw .onLine(number, error) }
                groups[existing].quantity = total
                groups[existing].lines.append((number, line.quantity))
            } else {
                position[line.sku] = groups.count
                groups.append(DocumentGroup(
                    sku: line.sku, quantity: line.quantity, lines: [(number, line.quantity)], movementID: request.movementIDs[index]))
            }
        }
        return groups
    }

    /// Records one SKU's line: a movement, or for a count the adjustment it needs (none when already right).
    private mutating func documentLine(
        _ group: DocumentGroup, of request: DocumentRequest, changedSinceStart: Int64, in db: Database,
        events: inout CommittedEvents
    ) throws -> (line: DocumentRecord.Line, timestamp: HLCTimestamp?) {
        let movementRequest: MovementRequest
        var adjustment: Int64?
        switch request.type {
        case .receive, .sell, .transfer:
            movementRequest = MovementRequest(
                type: MovementType(rawValue: request.type.rawValue)!, sku: group.sku, quantity: group.quantity, to: request.to,
                reason: request.reason, reference: request.reference, id: group.movementID, actor: request.actor)
        case .count:
            let product = try ownSummary(group.sku, in: db)
            guard product.exists else { throw StoreError.unknownSKU(group.sku.rawValue) }
            guard !product.deleted else { throw StoreError.productDeleted(group.sku.rawValue) }
            let onHandAtStart = (try ownCounter(group.sku, in: db)).value - changedSinceStart
            let difference = group.quantity - onHandAtStart
            adjustment = difference
            guard difference != 0 else {
                return (DocumentRecord.Line(sku: group.sku.rawValue, quantity: group.quantity, movement: nil, adjustment: 0), nil)
            }
            movementRequest = MovementRequest(
                type: .adjust, sku: group.sku, quantity: difference, reason: request.reason ?? "count",
                reference: request.reference, id: group.movementID, actor: request.actor)
        }
        guard case let .movement(record, duplicate) = try movement(
            movementRequest, document: (request.id, request.type), in: db, events: &events)
        else {
            throw StoreError.storage("unexpected outcome of a document line")
        }
        // A line's movement id is fresh: one already recorded would tie the document to another movement.
        if duplicate { throw StoreError.idempotencyConflict(id: group.movementID) }
        return (DocumentRecord.Line(sku: group.sku.rawValue, quantity: group.quantity, movement: record.id, adjustment: adjustment), record.timestamp)
    }
}
