import CRDT
import GRDB

/// Merging: operations from peers (or a trusted local caller) are checked, told apart from those held, and
/// applied as one batch through ``materialize(_:from:in:events:rows:)``.
extension LedgerApplier {
    /// Merges remote operations; a refused operation leaves the others unharmed.
    ///
    /// Checks run per operation (rules, duplicates against the version vector, clock drift); the accepted ones are
    /// then applied together in one savepoint, writing each touched counter and version-vector entry once. If that
    /// bulk step fails, it is rolled back and the operations are applied one savepoint each, so a faulty one is
    /// refused alone.
    /// With `proofs` (a peer's batch), an operation is applied only if a valid head of its origin covers it
    /// (``ChainVerifier``), whoever forwarded it; the others are reported per origin in ``MergeReport/unproven``.
    /// Without (`.merge`: a local, trusted caller), operations are taken as they are.
    /// `receivedBodies`: the row bodies that carried `operations`, by position, when the page carried them; the
    /// verifier hashes them and they are stored as they came.
    mutating func merge(
        _ operations: [LedgerOperation], proofs: PageProofs?, receivedBodies: EncodedBodies = EncodedBodies(), in db: Database,
        events: inout CommittedEvents
    ) throws -> MergeReport {
        var report = MergeReport()
        var progress = PerOrigin<MergeProgress>()
        let verdict = try proofs.map { proofs in
            try ChainVerifier.verify(
                operations, proofs: proofs, receivedBodies: receivedBodies, tip: { try ChainRecords.tip(of: $0, in: db) },
                keys: { try ChainRecords.keys(of: $0, in: db) },
                checkpointIsValid: { [clusterKey] in
                    guard let checkpoint = proofs.checkpoint else { return false }
                    if try ChainRecords.checkpoint(in: db) == checkpoint { return true }
                    return clusterKey.map { checkpoint.isSigned(by: $0) } ?? false
                },
                skip: { [replica, catchingUp] in $0 == replica && !catchingUp })
        }
        var unproven: [ReplicaID: Int] = [:]
        // `nil` while every operation so far is accepted (the usual page): the batch is then applied as it came,
        // without copying tens of megabytes of operations.
        var acceptedSubset: [LedgerOperation]?
        var scratch = self
        // Each operation is handed to `consider` in place (borrowed): `for op in operations` would copy (retain)
        // every field of every operation.
        func consider(_ op: LedgerOperation, at position: Int) {
            // An echo of this node's own operation, relayed back by a peer: already held, so a duplicate like any
            // other, not a fault (refusing it logged a warning for every ordinary concurrent write). One this node
            // never made (a sequence beyond its own) is still refused by `validateRemote`.
            if op.origin == replica, !catchingUp, op.sequence < nextSequence {
                report.duplicates += 1
                if acceptedSubset == nil { acceptedSubset = Array(operations[..<position]) }
                return
            }
            do {
                try Self.validateRemote(op, receiver: replica, catchingUp: catchingUp)
                let slot = try progress.index(of: op.origin) {
                    MergeProgress(contiguous: try VersionVectorRecord.sequence(of: op.origin, in: db))
                }
                let isDuplicate: Bool
                if op.sequence <= progress.values[slot].contiguous {
                    isDuplicate = true
                } else if op.sequence <= progress.values[slot].highestAccepted,
                    progress.values[slot].accepted(
                        op.sequence, of: op.origin, amongAccepted: acceptedSubset.map { $0[...] } ?? operations[..<position])
                {
                    isDuplicate = true
                } else {
                    let beyond = try progress.values[slot].firstBeyond
                        ?? (try Self.firstHeldSequence(of: op.origin, above: progress.values[slot].contiguous, in: db))
                    progress.values[slot].firstBeyond = beyond
                    isDuplicate = op.sequence >= beyond ? try ledgerHolds(op.dot, in: db) : false
                }
                if isDuplicate {
                    report.duplicates += 1
                    if acceptedSubset == nil { acceptedSubset = Array(operations[..<position]) }
                    return
                }
                if let verdict, !verdict.covers(op) {
                    unproven[op.origin, default: 0] += 1
                    if acceptedSubset == nil { acceptedSubset = Array(operations[..<position]) }
                    return
                }
                do { _ = try scratch.clock.receive(op.timestamp) } catch { throw StoreError.invalidOperation(error.description) }
                progress.values[slot].accept(op.sequence)
                acceptedSubset?.append(op)
            } catch {
                report.refused.append(.init(origin: op.origin.rawValue, sequence: op.sequence, reason: Self.reason(error)))
                if acceptedSubset == nil { acceptedSubset = Array(operations[..<position]) }
            }
        }
        operations.withUnsafeBufferPointer { buffer in
            for position in buffer.indices { consider(buffer[position], at: position) }
        }
        for (origin, count) in unproven.sorted(by: { $0.key < $1.key }) {
            let failure = verdict?.failures[origin] ?? .noHead
            report.unproven.append(.init(origin: origin.rawValue, count: count, reason: failure.description, forgery: failure.isForgery))
        }
        // The chain tips the covered operations reach, so the vector's advance does not re-read their rows.
        let knownTips = (verdict?.covered ?? [:]).mapValues { ChainTip(sequence: $0.sequence, hash: $0.hash) }
        if let verdict, let proofs {
            for head in verdict.covered.values { try ChainRecords.saveHead(head, in: db) }
            if let checkpoint = proofs.checkpoint, verdict.covered.values.contains(where: { $0.proof == .checkpoint }) {
                try ChainRecords.saveCheckpoint(checkpoint, in: db)
            }
        }
        let accepted = acceptedSubset ?? operations
        guard !accepted.isEmpty else { return report }
        do {
            // Events are appended in place and cut back if the batch fails.
            let mark = events.mark
            do {
                try PreparedTransaction.savepoint(.mergedBatch, db) {
                    // Every operation of the batch accepted: the bodies the verifier hashed are stored as they are.
                    let bodies = acceptedSubset == nil ? verdict?.bodies : nil
                    try scratch.applyBulk(accepted, knownTips: knownTips, bodies: bodies, in: db, events: &events)
                }
            } catch {
                events.rollBack(to: mark)
                throw error
            }
            self = scratch
            report.noteApplied(accepted)
        } catch {
            for op in accepted {
                do {
                    var single = self
                    var opEvents = CommittedEvents()
                    do { _ = try single.clock.receive(op.timestamp) } catch { throw StoreError.invalidOperation(error.description) }
                    try PreparedTransaction.savepoint(.mergedOperation, db) {
                        try single.applyBulk([op], knownTips: knownTips, in: db, events: &opEvents)
                    }
                    self = single
                    events.append(contentsOf: opEvents)
                    report.noteApplied(CollectionOfOne(op))
                } catch {
                    report.refused.append(.init(origin: op.origin.rawValue, sequence: op.sequence, reason: Self.reason(error)))
                }
            }
        }
        if accepted.contains(where: { $0.origin == replica }) { try adoptOwnOperations(in: db) }
        return report
    }

    private static func reason(_ error: any Error) -> String {
        (error as? StoreError)?.description ?? String(describing: error)
    }

    /// Per origin of a batch under merge: what the ledger holds and what the batch has accepted so far.
    private struct MergeProgress {
        /// The version vector's entry: every sequence up to it is held.
        var contiguous: UInt64
        /// The lowest sequence held beyond `contiguous` (`.max`: none), looked up on first need.
        var firstBeyond: UInt64?
        /// The highest sequence accepted from the batch so far: an operation above it cannot repeat one accepted.
        var highestAccepted: UInt64 = 0
        /// The sequences accepted so far, kept only once an operation arrives below `highestAccepted` (pages are in
        /// sequence order, so most merges never need it).
        private var acceptedBelowHighest: Set<UInt64>?

        init(contiguous: UInt64) { self.contiguous = contiguous }

        /// Whether `sequence` of `origin` (at most `highestAccepted`) was accepted already; `accepted` are the
        /// batch's operations accepted so far, of every origin.
        mutating func accepted(_ sequence: UInt64, of origin: ReplicaID, amongAccepted accepted: ArraySlice<LedgerOperation>) -> Bool {
            if acceptedBelowHighest == nil {
                acceptedBelowHighest = Set(accepted.lazy.filter { $0.origin == origin }.map(\.sequence))
            }
            return acceptedBelowHighest?.contains(sequence) ?? false
        }

        mutating func accept(_ sequence: UInt64) {
            highestAccepted = max(highestAccepted, sequence)
            acceptedBelowHighest?.insert(sequence)
        }
    }

    /// Applies checked remote operations: their ledger rows and materialised state (``materialize(_:from:in:events:rows:)``,
    /// the path local operations take too), then the version vector and chain tips.
    /// `knownTips`: chain tips the batch's proofs established, used where the vector reaches them exactly.
    /// `bodies`: the row bodies the chain verifier hashed, by position, stored as they are.
    private func applyBulk(
        _ operations: [LedgerOperation], knownTips: [ReplicaID: ChainTip] = [:], bodies: EncodedBodies? = nil, in db: Database,
        events: inout CommittedEvents
    ) throws {
        var batch = PerOrigin<[UInt64]>()
        for position in operations.indices {
            batch.values[batch.index(of: operations[position].origin) { [] }].append(operations[position].sequence)
        }
        for slot in batch.values.indices {
            let sequences = batch.values[slot]
            if zip(sequences, sequences.dropFirst()).contains(where: { $0 > $1 }) { batch.values[slot].sort() }
        }
        // The ledger indexes of these operations are left to the writer's idle time, in big sorted batches (see
        // `LedgerIndexes`). Their ranges are recorded first: a delete later in this very batch looks for the
        // product's movements, and must find those of this batch too.
        for (origin, sequences) in zip(batch.origins, batch.values) {
            if let first = sequences.first, let last = sequences.last {
                try LedgerIndexes.deferIndexing(origin: origin, first: first, last: last, in: db)
            }
        }
        var rows = try MergedRows(bodies: bodies, receiver: replica, in: db)
        try materialize(operations[...], from: .merged, in: db, events: &events, rows: &rows)
        // The batch's own sequences advance the vector without a query each; the ledger is asked only past them,
        // for operations that arrived earlier beyond a gap this batch closes.
        let next = try db.cachedStatement(sql: "SELECT 1 FROM ledger WHERE origin = ? AND sequence = ?")
        for (origin, sequences) in zip(batch.origins, batch.values) {
            let held = try VersionVectorRecord.sequence(of: origin, in: db)
            var top = held
            for sequence in sequences where sequence > top {
                guard sequence == top + 1 else { break }
                top = sequence
            }
            while try Bool.fetchOne(next, arguments: [origin.rawValue, Int64(top + 1)]) != nil { top += 1 }
            if top > held {
                try VersionVectorRecord.save(origin: origin, sequence: top, in: db)
                try ChainRecords.advanceTip(of: origin, to: top, known: knownTips[origin], in: db)
            }
        }
    }

    /// The ledger rows of a merged batch: those whose bodies arrived encoded are inserted several per statement
    /// (``LedgerRowBatch``) when they may wait, the others one by one, each as its turn comes.
    private struct MergedRows: LedgerRowWriting {
        private let receiver: ReplicaID
        private let db: Database
        private var batch: LedgerRowBatch?
        private let insertRow: BoundStatement
        private var buffer = ByteWriter(format: LedgerRowBody.version)

        init(bodies: EncodedBodies?, receiver: ReplicaID, in db: Database) throws {
            self.receiver = receiver
            self.db = db
            batch = try bodies.map { try LedgerRowBatch(bodies: $0, in: db) }
            insertRow = try BoundStatement(db, sql: OperationRecord.insertSQL)
        }

        mutating func write(_ op: LedgerOperation, at position: Int, deferrable: Bool) throws {
            if batch?.hasBody(at: position) == true {
                try batch?.queue(origin: op.origin, sequence: op.sequence, bodyAt: position)
                if !deferrable { try batch?.flush() }
            } else {
                try batch?.flush()
                try OperationRecord.insert(op, using: insertRow, buffer: &buffer)
            }
            try LedgerIndexes.indexAtOnce(op, receiver: receiver, in: db)
        }

        mutating func flush() throws { try batch?.flush() }
    }

    /// The rules every replicated operation obeys, whoever sent it.
    ///
    /// An operation claiming to come from the receiver is refused, except while the receiver catches up after a
    /// restore: then peers hand back the receiver's own operations that its restored ledger lacks.
    static func validateRemote(_ op: LedgerOperation, receiver: ReplicaID, catchingUp: Bool = false) throws(StoreError) {
        guard op.origin != receiver || catchingUp else {
            throw .invalidOperation("operation \(op.origin):\(op.sequence) claims to come from this node")
        }
        guard op.sequence >= 1 else { throw .invalidOperation("sequence must start at 1") }
        guard op.sequence <= LedgerOperation.maxSequence, op.timestamp.rawValue <= LedgerOperation.maxTimestamp else {
            throw .invalidOperation("operation \(op.origin):\(op.sequence) has a sequence or timestamp out of range")
        }
        if op.kind.isMovement {
            guard let warehouse = op.warehouse, let counter = op.counter else {
                throw .invalidOperation("movement \(op.origin):\(op.sequence) carries no stock counter")
            }
            // Only a warehouse's own node may take stock out of it: that is what keeps stock non-negative.
            if counter.decrements > 0 && warehouse != op.origin {
                throw .invalidOperation("\(op.origin) may not decrement the stock of \(warehouse)")
            }
            if warehouse != op.origin {
                throw .invalidOperation("\(op.origin) may not change the stock of \(warehouse)")
            }
        } else if op.product == nil {
            throw .invalidOperation("product operation \(op.origin):\(op.sequence) carries no fields")
        } else if op.kind == .reorderOverride && (op.warehouse == nil || op.product?.reorderPoint == nil) {
            throw .invalidOperation("reorder override \(op.origin):\(op.sequence) names no warehouse or reorder point")
        }
        // Only a return ships goods back, and only the destination sets what it accepted or returned.
        if op.transferBack != nil && op.kind != .transferReturn {
            throw .invalidOperation("\(op.kind.rawValue) \(op.origin):\(op.sequence) may not carry a transfer back")
        }
        switch op.kind {
        case .transfer:
            guard let transfer = op.transfer, transfer.from == op.origin, (transfer.shipped ?? 0) > 0,
                  transfer.accepted == nil, transfer.returned == nil
            else {
                throw .invalidOperation("transfer \(op.origin):\(op.sequence) must ship from its origin")
            }
        case .accept:
            guard let transfer = op.transfer, transfer.to == op.origin, transfer.accepted != nil, transfer.shipped == nil,
                  transfer.returned == nil
            else {
                throw .invalidOperation("only the destination may accept transfer \(op.transfer?.id ?? "?")")
            }
        case .transferReturn:
            // Only the destination returns, and what it returns goes back to the source as a transfer from it.
            guard let transfer = op.transfer, transfer.to == op.origin, transfer.returned != nil, op.delta == 0,
                  transfer.shipped == nil, transfer.accepted == nil,
                  let back = op.transferBack, back.from == op.origin, back.to == transfer.from, (back.shipped ?? 0) > 0,
                  back.accepted == nil, back.returned == nil, back.id != transfer.id
            else {
                throw .invalidOperation("return \(op.origin):\(op.sequence) must send goods in transit to it back to their source")
            }
        default:
            break
        }
    }

    // MARK: - Duplicates

    /// The lowest sequence of `origin` held above `sequence`, or `.max` when there is none.
    private static func firstHeldSequence(of origin: ReplicaID, above sequence: UInt64, in db: Database) throws -> UInt64 {
        let statement = try db.cachedStatement(sql: "SELECT min(sequence) FROM ledger WHERE origin = ? AND sequence > ?")
        return try Int64.fetchOne(statement, arguments: [origin.rawValue, Int64(sequence)]).map(UInt64.init) ?? .max
    }

    /// Whether the ledger has a row for `dot` (for dots above the version vector: held beyond a gap).
    private func ledgerHolds(_ dot: Dot, in db: Database) throws -> Bool {
        let statement = try db.cachedStatement(sql: "SELECT 1 FROM ledger WHERE origin = ? AND sequence = ?")
        return try Bool.fetchOne(statement, arguments: [dot.origin.rawValue, Int64(dot.sequence)]) != nil
    }
}
