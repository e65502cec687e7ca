import CRDT
// swift-crypto 3.12 does not yet mark its keys Sendable; they are immutable.
@preconcurrency import Crypto
import Foundation
import GRDB

/// Turns write commands into ledger operations and applies operations to the materialised state.
///
/// Owned by the single writer thread and called inside its transaction. Local commands are validated against the
/// state this node holds, then recorded as an ``LedgerOperation`` carrying CRDT deltas; remote operations are checked
/// against the cluster's rules and merged. Both go through ``materialize(_:in:events:)``, so the materialised
/// state is a function of the set of operations held, whatever their arrival order.
///
/// Invariants:
/// - only this node's operations decrement this node's warehouse, and a decrement is accepted only when the
///   local counter covers it, so every warehouse's stock stays `>= 0` on every node;
/// - `nextSequence` is `1 + ` the highest sequence of this replica in the ledger: sequences are dense;
/// - every issued timestamp is greater than any held (the HLC is restored from the ledger at start);
/// - a local transfer goes to an active member (see ``checkDestination(_:in:)``); merged ones are not checked;
/// - while ``catchingUp`` (after a restore) no operation of this node is issued, and operations of this node held
///   by peers are merged like any other: they are the ones the restored ledger lacks. Once the flag is cleared,
///   `nextSequence` is above every sequence of this node that any member held, so no dot is ever reused.
struct LedgerApplier<Clock: PhysicalClock> {
    let replica: ReplicaID
    var clock: HybridLogicalClock<Clock>
    var nextSequence: UInt64
    /// Counters of this warehouse and product summaries, remembered between commands (see ``WriterCache``).
    let cache = WriterCache()
    /// This replica's entry of the stored version vector; brought up to `nextSequence - 1` by
    /// ``flushOwnSequence(in:)`` once per transaction rather than once per operation.
    private var storedOwnSequence: UInt64
    /// Restored from a backup and not yet caught up with the peers: local operations are refused.
    private(set) var catchingUp: Bool
    /// The first of this transaction's local sequences: the history backlog range that ``insert(_:in:)`` extends.
    private var openHistoryRange: UInt64?
    /// This node's chain after its last operation (see ``OriginChain``); stored and signed at each commit.
    private var ownTip: ChainTip
    /// The highest own sequence whose head is stored (and signed, with a key).
    private var storedOwnTip: UInt64
    private let signingKey: P256.Signing.PrivateKey?
    private let clusterKey: P256.Signing.PublicKey?

    init(
        replica: ReplicaID, clock: Clock, maxClockOffsetMilliseconds: UInt64, signingKey: P256.Signing.PrivateKey? = nil,
        clusterKey: P256.Signing.PublicKey? = nil, in db: Database
    ) throws {
        self.signingKey = signingKey
        self.clusterKey = clusterKey
        self.replica = replica
        let lastNode = try NodeRecord.load(db)?.lastHLC.rawValue ?? 0
        let lastLedger = try LedgerIndexes.highestTimestamp(in: db)
        self.clock = HybridLogicalClock(
            clock: clock, maxOffsetMilliseconds: maxClockOffsetMilliseconds,
            last: HLCTimestamp(rawValue: max(lastNode, lastLedger)))
        let ownSequence = try Int64.fetchOne(
            db, sql: "SELECT max(sequence) FROM ledger WHERE origin = ?", arguments: [replica.rawValue]) ?? 0
        nextSequence = UInt64(ownSequence) + 1
        storedOwnSequence = try VersionVectorRecord.sequence(of: replica, in: db)
        catchingUp = try NodeRecord.isCatchingUp(db)
        let stored = try ChainRecords.tip(of: replica, in: db)
        // A ledger whose own operations cannot be chained (a gap) keeps the stored tip: its next heads will not verify
        // anywhere, which peers report, rather than the writer not starting.
        ownTip = (try? ChainRecords.tip(of: replica, from: stored, through: UInt64(ownSequence), in: db)) ?? stored
        storedOwnTip = stored.sequence
        // Operations written without a key (or before signing existed) get their head at the first commit.
        if signingKey != nil, ownTip.sequence > 0,
           (try ChainRecords.head(of: replica, in: ownTip.sequence...LedgerOperation.maxSequence, in: db)) == nil {
            storedOwnTip = 0
        }
    }

    /// Stores this replica's version-vector entry; the writer calls it before every commit.
    /// Also stores this node's chain tip and signs its head (one signature per commit with own operations).
    mutating func flushOwnSequence(in db: Database) throws {
        openHistoryRange = nil
        if ownTip.sequence > storedOwnTip {
            try ChainRecords.saveTip(ownTip, of: replica, in: db)
            try signOwnHead(in: db)
            storedOwnTip = ownTip.sequence
        }
        guard nextSequence - 1 > storedOwnSequence else { return }
        try VersionVectorRecord.save(origin: replica, sequence: nextSequence - 1, in: db)
        storedOwnSequence = nextSequence - 1
    }

    /// Signs and stores the head at ``ownTip``, dropping the heads it makes unnecessary.
    private func signOwnHead(in db: Database) throws {
        guard let signingKey, ownTip.sequence > 0 else { return }
        try ChainRecords.saveHead(try SignedHead.signed(origin: replica, tip: ownTip, key: signingKey), in: db)
        try ChainRecords.pruneHeads(of: replica, below: ownTip.sequence, in: db)
    }

    /// The version vector as of now inside the writer's transaction (own entry included even before the flush).
    private func currentVersionVector(in db: Database) throws -> VersionVector {
        var vector = try VersionVectorRecord.load(db)
        if nextSequence > 1 { vector.advance(replica, to: nextSequence - 1) }
        return vector
    }

    // MARK: - Commands

    mutating func apply(_ command: WriteCommand, in db: Database, events: inout CommittedEvents) throws(StoreError) -> WriteOutcome {
        if catchingUp && command.issuesOperation { throw .catchingUp }
        do {
            if command.issuesOperation, let retiredAt = try Self.retirement(of: replica, in: db) {
                throw StoreError.retired(sinceMilliseconds: retiredAt)
            }
            switch command {
            case let .createProduct(draft, actor):
                return try createProduct(draft, actor: actor, in: db, events: &events)
            case let .updateProduct(sku, patch, actor):
                return try updateProduct(sku, patch, actor: actor, in: db, events: &events)
            case let .deleteProduct(sku, actor):
                return try deleteProduct(sku, actor: actor, in: db, events: &events)
            case let .movement(request):
                return try movement(request, in: db, events: &events)
            case let .accept(request):
                return try accept(request, in: db, events: &events)
            case let .acceptLines(request):
                return try transferLines(request, returning: false, in: db, events: &events)
            case let .returnLines(request):
                return try transferLines(request, returning: true, in: db, events: &events)
            case let .setReorderOverride(sku, warehouse, reorderPoint, actor):
                return try setReorderOverride(sku, warehouse: warehouse, reorderPoint: reorderPoint, actor: actor, in: db, events: &events)
            case let .merge(operations):
                return .merged(try merge(operations, proofs: nil, in: db, events: &events))
            case let .mergeSigned(operations, proofs):
                return .merged(try merge(operations, proofs: proofs, in: db, events: &events))
            case let .addOriginCertificates(certificates):
                var added = 0
                for certificate in certificates where try ChainRecords.saveKey(certificate, in: db) { added += 1 }
                return .proofs(added: added)
            case let .saveCheckpoint(checkpoint):
                guard let clusterKey, checkpoint.isSigned(by: clusterKey) else {
                    throw StoreError.invalidInput("the checkpoint is not signed by the cluster CA")
                }
                let before = try ChainRecords.checkpoint(in: db)
                try ChainRecords.saveCheckpoint(checkpoint, in: db)
                return .proofs(added: before == nil ? 1 : 0)
            case let .decideMembership(decisions):
                return .members(changed: try decideMembership(decisions, in: db))
            case let .setMember(warehouse, peerURL, retired):
                guard ReplicaID.isValid(warehouse) else { throw StoreError.invalidInput("warehouse id must be 1-32 characters of A-Z a-z 0-9 _ -") }
                guard PeerURL.isValid(peerURL) else { throw StoreError.invalidInput(PeerURL.refusal(peerURL)) }
                let member = MemberRecord(
                    warehouse: warehouse, peerURL: peerURL, retired: retired, timestamp: clock.now(), replica: replica.rawValue)
                return .members(changed: try MemberRecord.merge(member, in: db) ? [member] : [])
            case let .announcedMembers(announcer, members):
                let known = try MemberRecord.fetchAll(db, sql: "SELECT * FROM members")
                var changed: [MemberRecord] = []
                for (warehouse, peerURL) in MemberAnnouncementPolicy.accepted(
                    members, announcer: announcer, receiver: replica.rawValue, known: known)
                {
                    // Stamped here: the policy, not the sender's stamp, decided that the record is taken.
                    let member = MemberRecord(
                        warehouse: warehouse, peerURL: peerURL, retired: false, timestamp: clock.now(), replica: replica.rawValue)
                    try MemberRecord.replace(member, in: db)
                    changed.append(member)
                }
                return .members(changed: changed)
            case let .createToken(token):
                return try createToken(token, in: db)
            case let .revokeToken(id, milliseconds):
                return try revokeToken(id, at: milliseconds, in: db)
            case let .rotateToken(id, secretHash, milliseconds, previousValidUntil):
                return try rotateToken(id, secretHash: secretHash, at: milliseconds, previousValidUntil: previousValidUntil, in: db)
            case let .document(request):
                return try document(request, in: db, events: &events)
            case let .importProducts(rows, actor):
                return try importProducts(rows, actor: actor, in: db, events: &events)
            case .finishCatchUp:
                try NodeRecord.setCatchingUp(false, in: db)
                catchingUp = false
                return .catchingUp(false)
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw .storage(String(describing: error))
        }
    }

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

    private mutating func deleteProduct(_ sku: SKU, actor: String, in db: Database, events: inout CommittedEvents) throws -> WriteOutcome {
        try TextLimits.validate(actor, field: "user", limit: TextLimits.actor, allowEmpty: false)
        _ = try liveProduct(sku, in: db)
        let patch = ProductPatch(deleted: true)
        return .product(try recordProductOperation(.productDelete, sku: sku, patch: patch, actor: actor, in: db, events: &events))
    }

    private mutating func setReorderOverride(
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

    private func createToken(_ token: TokenRecord, in db: Database) throws -> WriteOutcome {
        try TextLimits.validate(token.name, field: "token name", limit: TextLimits.actor, allowEmpty: false)
        // Names are unique among live tokens: the name is what logs, history (`user`) and `inv token list` show.
        let taken = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM tokens WHERE name = ? AND revoked_at IS NULL)", arguments: [token.name])
        if taken == true { throw StoreError.tokenNameTaken(token.name) }
        try db.execute(sql: """
            INSERT INTO tokens (id, name, role, secret_hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, NULL)
            """, arguments: [token.id, token.name, token.role.rawValue, token.secretHash, token.createdAt])
        return .token(token)
    }

    private func revokeToken(_ id: String, at milliseconds: Int64, in db: Database) throws -> WriteOutcome {
        try db.execute(
            sql: "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?", arguments: [milliseconds, id])
        guard let token = try TokenRecord.fetchOne(db, sql: "SELECT * FROM tokens WHERE id = ?", arguments: [id]) else {
            throw StoreError.unknownToken(id)
        }
        return .token(token)
    }

    /// Replaces the secret hash of a live token; a grace period keeps the replaced hash (and only that one: an
    /// earlier rotation's grace ends here) until `previousValidUntil`.
    private func rotateToken(
        _ id: String, secretHash: String, at milliseconds: Int64, previousValidUntil: Int64?, in db: Database
    ) throws -> WriteOutcome {
        guard secretHash.utf8.count == 64, secretHash.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw StoreError.invalidInput("a token secret hash is 64 lowercase hex digits")
        }
        guard let token = try TokenRecord.fetchOne(db, sql: "SELECT * FROM tokens WHERE id = ?", arguments: [id]) else {
            throw StoreError.unknownToken(id)
        }
        guard token.revokedAt == nil else { throw StoreError.tokenRevoked(id) }
        if let previousValidUntil, previousValidUntil <= milliseconds {
            throw StoreError.invalidInput("a grace period must end after the rotation")
        }
        try db.execute(sql: """
            UPDATE tokens SET secret_hash = ?, previous_secret_hash = ?, previous_expires_at = ?, rotated_at = ? WHERE id = ?
            """, arguments: [secretHash, previousValidUntil == nil ? nil : token.secretHash, previousValidUntil, milliseconds, id])
        guard let rotated = try TokenRecord.fetchOne(db, sql: "SELECT * FROM tokens WHERE id = ?", arguments: [id]) else {
            throw StoreError.storage("token vanished")
        }
        return .token(rotated)
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
        if request.type == .transfer {
            guard let to = request.to else { throw StoreError.invalidInput("a transfer needs a destination warehouse (to)") }
            guard to != replica else { throw StoreError.invalidInput("a transfer must go to another warehouse") }
        } else if request.to != nil {
            throw StoreError.invalidInput("only a transfer takes a destination (to)")
        }
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

    /// When this node's warehouse was retired (milliseconds since 1970), if its membership says it is.
    ///
    /// A retired warehouse's operations are refused by every peer, so a local write here would be acknowledged and
    /// then never reach anyone: it is refused instead, until an admin re-admits the warehouse (`inv peer readmit`).
    /// Applies each decision signed by the cluster CA that supersedes the one held about its warehouse: stored as
    /// signed (to forward), and the member's record retired or re-admitted, stamped with the decision's time. A
    /// decision with a bad signature, or about a warehouse this node has no record of, changes no member.
    private func decideMembership(_ decisions: [MembershipDecision], in db: Database) throws -> [MemberRecord] {
        guard let clusterKey else { return [] }
        var changed: [MemberRecord] = []
        for decision in decisions where ReplicaID.isValid(decision.warehouse) && decision.isSigned(by: clusterKey) {
            if let held = try MembershipDecisionRecord.fetch(warehouse: decision.warehouse, in: db), !decision.supersedes(held) {
                continue
            }
            try MembershipDecisionRecord.save(decision, in: db)
            guard var member = try MemberRecord.fetchOne(
                db.cachedStatement(sql: "SELECT * FROM members WHERE warehouse = ?"), arguments: [decision.warehouse])
            else { continue }
            member.retired = decision.retired
            member.timestamp = max(member.timestamp, decision.timestamp)
            member.replica = decision.issuer
            try MemberRecord.replace(member, in: db)
            changed.append(member)
        }
        return changed
    }

    static func retirement(of replica: ReplicaID, in db: Database) throws -> UInt64? {
        let statement = try db.cachedStatement(sql: "SELECT hlc FROM members WHERE warehouse = ? AND retired = 1")
        return try Int64.fetchOne(statement, arguments: [replica.rawValue]).map { HLCTimestamp(rawValue: UInt64($0)).physicalMilliseconds }
    }

    /// Refuses a local transfer to a warehouse that is not an active member of the cluster as this node knows it
    /// (and a local reorder override for one: it would set an alert nobody can ever see).
    ///
    /// A transfer cannot be cancelled and only its destination can accept it: goods shipped to a warehouse that does
    /// not exist, or no longer takes part, would stay in transit forever. Checked here, in the single writer, so the
    /// check and the write are one transaction (a `peer remove` cannot slip in between). A node whose membership holds
    /// nobody else (a single node) therefore refuses every transfer. Only local commands are checked: a transfer
    /// merged from a peer is kept whatever its destination, because that peer may have heard of a member this node
    /// has not heard of yet, and refusing it would make the ledgers diverge.
    /// - Throws: ``StoreError/unknownWarehouse(_:)``, ``StoreError/retiredWarehouse(_:)``.
    static func checkDestination(_ destination: ReplicaID, in db: Database) throws {
        let statement = try db.cachedStatement(sql: "SELECT retired FROM members WHERE warehouse = ?")
        guard let retired = try Bool.fetchOne(statement, arguments: [destination.rawValue]) else {
            throw StoreError.unknownWarehouse(destination.rawValue)
        }
        if retired { throw StoreError.retiredWarehouse(destination.rawValue) }
    }

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

    /// Accepts a transfer: every open line, or `quantity` of its only line (see ``transferLines(_:returning:in:events:)``).
    private mutating func accept(_ request: AcceptRequest, in db: Database, events: inout CommittedEvents) throws -> WriteOutcome {
        let lines = TransferLinesRequest(
            transferID: request.transferID, quantity: request.quantity, reason: request.reason, reference: request.reference,
            id: request.id, actor: request.actor)
        let outcome = try transferLines(lines, returning: false, in: db, events: &events)
        if case let .transferLines(movements, duplicate) = outcome, movements.count == 1 {
            return .movement(movements[0], duplicate: duplicate)
        }
        return outcome
    }

    // MARK: - Merge

    /// Merges remote operations; a refused operation leaves the others unharmed.
    ///
    /// Checks run per operation (rules, duplicates against the version vector, clock drift); the accepted ones are
    /// then applied together in one savepoint, writing each touched counter and version-vector entry once. If that
    /// bulk step fails, it is rolled back and the operations are applied one savepoint each, so a faulty one is
    /// refused alone.
    /// With `proofs` (a peer's batch), an operation is applied only if a valid head of its origin covers it
    /// (``ChainVerifier``), whoever forwarded it; the others are reported per origin in ``MergeReport/unproven``.
    /// Without (`.merge`: a local, trusted caller), operations are taken as they are.
    private mutating func merge(
        _ operations: [LedgerOperation], proofs: PageProofs?, in db: Database, events: inout CommittedEvents
    ) throws -> MergeReport {
        var report = MergeReport()
        var progress = PerOrigin<MergeProgress>()
        let verdict = try proofs.map { proofs in
            try ChainVerifier.verify(
                operations, proofs: proofs, tip: { try ChainRecords.tip(of: $0, in: db) },
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
        for (position, op) in operations.enumerated() {
            // An echo of this node's own operation, relayed back by a peer: already held, so a duplicate like any
            // other, not a fault (refusing it logged a warning for every ordinary concurrent write). One this node
            // never made (a sequence beyond its own) is still refused by `validateRemote`.
            if op.origin == replica, !catchingUp, op.sequence < nextSequence {
                report.duplicates += 1
                if acceptedSubset == nil { acceptedSubset = Array(operations[..<position]) }
                continue
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
                    continue
                }
                if let verdict, !verdict.covers(op) {
                    unproven[op.origin, default: 0] += 1
                    if acceptedSubset == nil { acceptedSubset = Array(operations[..<position]) }
                    continue
                }
                do { _ = try scratch.clock.receive(op.timestamp) } catch { throw StoreError.invalidOperation(error.description) }
                progress.values[slot].accept(op.sequence)
                acceptedSubset?.append(op)
            } catch {
                report.refused.append(.init(origin: op.origin.rawValue, sequence: op.sequence, reason: Self.reason(error)))
                if acceptedSubset == nil { acceptedSubset = Array(operations[..<position]) }
            }
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
                try db.inSavepoint {
                    // Every operation of the batch accepted: the bodies the verifier hashed are stored as they are.
                    let bodies = acceptedSubset == nil ? verdict?.bodies : nil
                    try scratch.applyBulk(accepted, knownTips: knownTips, bodies: bodies, in: db, events: &events)
                    return .commit
                }
            } catch {
                events.rollBack(to: mark)
                throw error
            }
            self = scratch
            report.applied += accepted.count
        } catch {
            for op in accepted {
                do {
                    var single = self
                    var opEvents = CommittedEvents()
                    do { _ = try single.clock.receive(op.timestamp) } catch { throw StoreError.invalidOperation(error.description) }
                    try db.inSavepoint {
                        try single.applyBulk([op], knownTips: knownTips, in: db, events: &opEvents)
                        return .commit
                    }
                    self = single
                    events.append(contentsOf: opEvents)
                    report.applied += 1
                } catch {
                    report.refused.append(.init(origin: op.origin.rawValue, sequence: op.sequence, reason: Self.reason(error)))
                }
            }
        }
        if accepted.contains(where: { $0.origin == replica }) { try adoptOwnOperations(in: db) }
        return report
    }

    /// After merging operations of this very node (only while catching up): the next sequence goes above every one
    /// now held, the stored own entry of the version vector is re-read, and the cache (which holds this
    /// warehouse's counters) is dropped.
    private mutating func adoptOwnOperations(in db: Database) throws {
        let highest = try Int64.fetchOne(
            db, sql: "SELECT max(sequence) FROM ledger WHERE origin = ?", arguments: [replica.rawValue]) ?? 0
        nextSequence = max(nextSequence, UInt64(highest) + 1)
        storedOwnSequence = try VersionVectorRecord.sequence(of: replica, in: db)
        let stored = try ChainRecords.tip(of: replica, in: db)
        ownTip = (try? ChainRecords.tip(of: replica, from: stored, through: UInt64(highest), in: db)) ?? stored
        storedOwnTip = stored.sequence
        cache.clear()
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

    /// Per origin of a batch being applied: its sequences and the counter entries it merges, by (SKU, warehouse).
    private struct BulkOrigin {
        var sequences: [UInt64] = []
        var counters: [CounterTarget: CounterMerge] = [:]
    }

    /// One origin's entry of a counter as a batch leaves it, and the newest of the batch's operations on it.
    private struct CounterMerge {
        var entry: PNCounter.Entry
        var newest: HLCTimestamp

        func adding(_ other: PNCounter.Entry, at timestamp: HLCTimestamp) -> CounterMerge {
            CounterMerge(entry: entry.joined(with: other), newest: max(newest, timestamp))
        }
    }

    private struct CounterTarget: Hashable {
        var sku: SKU
        var warehouse: ReplicaID
    }

    /// Applies checked remote operations: ledger rows, then each touched counter once, then alerts and the
    /// version vector.
    /// `knownTips`: chain tips the batch's proofs established, used where the vector reaches them exactly.
    private func applyBulk(
        _ operations: [LedgerOperation], knownTips: [ReplicaID: ChainTip] = [:], bodies: EncodedBodies? = nil, in db: Database,
        events: inout CommittedEvents
    ) throws {
        // Most batches meet no deleted product: then no movement needs the per-operation conflict lookup. A delete
        // inside the batch turns the lookups on for the movements after it.
        var deletedProductsExist = try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM products WHERE deleted = 1)")) ?? true
        // Likewise alerts: with no reorder point anywhere, counters are merged without reading products.
        var reorderPointsExist = try Bool.fetchOne(db.cachedStatement(sql: """
            SELECT EXISTS (SELECT 1 FROM products WHERE reorder_point IS NOT NULL) OR EXISTS (SELECT 1 FROM reorder_overrides)
            """)) ?? true
        // The batch's operations are announced as the batch itself, before the alerts they cause.
        events.append(merged: operations[...])
        var batch = PerOrigin<BulkOrigin>()
        for op in operations {
            batch.values[batch.index(of: op.origin) { BulkOrigin() }].sequences.append(op.sequence)
        }
        for slot in batch.values.indices {
            let sequences = batch.values[slot].sequences
            if zip(sequences, sequences.dropFirst()).contains(where: { $0 > $1 }) { batch.values[slot].sequences.sort() }
        }
        // The ledger indexes of these operations are left to the writer's idle time, in big sorted batches (see
        // `LedgerIndexes`). Their ranges are recorded first: a delete later in this very batch looks for the
        // product's movements, and must find those of this batch too.
        for (origin, entry) in zip(batch.origins, batch.values) {
            if let first = entry.sequences.first, let last = entry.sequences.last {
                try LedgerIndexes.deferIndexing(origin: origin, first: first, last: last, in: db)
            }
        }
        let insertRow = try BoundStatement(db, sql: OperationRecord.insertSQL)
        var body = ByteWriter(format: LedgerRowBody.version)
        for (position, op) in operations.enumerated() {
            if let encoded = bodies?[position] {
                try insertRow.execute { row in try OperationRecord.bind(op, to: &row, body: encoded) }
            } else {
                try insertRow.execute { row in try OperationRecord.bind(op, to: &row, using: &body) }
            }
            try LedgerIndexes.indexAtOnce(op, receiver: replica, in: db)
            if let entry = op.counter, let warehouse = op.warehouse {
                if deletedProductsExist { try ConflictDetector.movementOnDeletedProduct(op, in: db) }
                let slot = batch.index(of: op.origin) { BulkOrigin() }
                let target = CounterTarget(sku: op.sku, warehouse: warehouse)
                batch.values[slot].counters[target] =
                    batch.values[slot].counters[target]?.adding(entry, at: op.timestamp) ?? CounterMerge(entry: entry, newest: op.timestamp)
                if let transfer = op.transfer { try TransferRecord.merge(transfer, sku: op.sku, timestamp: op.timestamp, in: db) }
                if let back = op.transferBack { try TransferRecord.merge(back, sku: op.sku, timestamp: op.timestamp, in: db) }
            } else {
                try materialize(op, in: db, events: &events, announced: true)
                if op.product?.deleted == true { deletedProductsExist = true }
                // Only a reorder point being set (not one cleared, as every product created without one is).
                if case .some(.some) = op.product?.reorderPoint { reorderPointsExist = true }
            }
        }
        let counterUpsert = try BoundStatement(db, sql: StockCounterRecord.mergeMaxSQL)
        for (origin, entry) in zip(batch.origins, batch.values) {
            // In key order: consecutive upserts then land on the same or the next leaf of `stock_counters`.
            for (target, counterEntry) in entry.counters.sorted(by: { ($0.key.sku.rawValue, $0.key.warehouse.rawValue) < ($1.key.sku.rawValue, $1.key.warehouse.rawValue) }) {
                try mergeCounter(
                    counterEntry, from: origin, into: target, reorderPointsExist: reorderPointsExist, using: counterUpsert,
                    in: db, events: &events)
            }
        }
        // The batch's own sequences advance the vector without a query each; the ledger is asked only past them,
        // for operations that arrived earlier beyond a gap this batch closes.
        let next = try db.cachedStatement(sql: "SELECT 1 FROM ledger WHERE origin = ? AND sequence = ?")
        for (origin, entry) in zip(batch.origins, batch.values) {
            let held = try VersionVectorRecord.sequence(of: origin, in: db)
            var top = held
            for sequence in entry.sequences where sequence > top {
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

    /// Merges one origin's counter entry for a (SKU, warehouse), and re-evaluates its alert when a reorder point
    /// applies.
    private func mergeCounter(
        _ merge: CounterMerge, from origin: ReplicaID, into target: CounterTarget, reorderPointsExist: Bool,
        using statement: BoundStatement, in db: Database, events: inout CommittedEvents
    ) throws {
        let entry = merge.entry
        let product = reorderPointsExist ? try ProductRecord.summary(sku: target.sku, warehouse: target.warehouse, in: db) : nil
        guard let product, let reorderPoint = product.reorderPoint, !product.deleted else {
            // No reorder point here, so no alert to raise or clear: merge the entry without reading the counter.
            try StockCounterRecord.mergeMax(
                entry, newest: merge.newest, sku: target.sku, warehouse: target.warehouse, replica: origin, using: statement)
            return
        }
        var counter = try StockCounterRecord.counter(sku: target.sku, warehouse: target.warehouse, in: db)
        let before = counter.entry(for: origin)
        counter.merge(PNCounter(entries: [origin: entry]))
        guard counter.entry(for: origin) != before else { return }
        try StockCounterRecord.save(
            counter.entry(for: origin), at: merge.newest, sku: target.sku, warehouse: target.warehouse, replica: origin, in: db)
        try evaluateAlert(
            sku: target.sku, warehouse: target.warehouse.rawValue, quantity: counter.value, reorderPoint: reorderPoint,
            in: db, events: &events)
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

    // MARK: - Materialisation

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

    /// Records a new local operation: ledger row, materialised state, version vector.
    mutating func record(
        _ op: LedgerOperation, in db: Database, events: inout CommittedEvents, counter: PNCounter? = nil,
        product: ProductRecord.Summary? = nil
    ) throws {
        try insert(op, in: db)
        try materialize(op, in: db, events: &events, knownCounter: counter, knownProduct: product)
        nextSequence += 1
    }

    /// Writes a local operation's ledger row. Its SKU and timestamp index rows are deferred like a merge's (see
    /// `LedgerIndexes`): the transaction's local sequences form one backlog range, extended in place (one hot
    /// page) instead of index rows on random pages. Its movement id is indexed at once, for the idempotency check,
    /// and so is a product operation's timestamp, for the conflict checks (see `LedgerIndexes`).
    private mutating func insert(_ op: LedgerOperation, in db: Database) throws {
        var body = ByteWriter(format: LedgerRowBody.version)
        try BoundStatement(db, sql: OperationRecord.insertSQL).execute { row in try OperationRecord.bind(op, to: &row, using: &body) }
        // The chain over exactly the stored body, as receivers will recompute it.
        ownTip = ChainTip(sequence: op.sequence, hash: OriginChain.extend(ownTip.hash, sequence: op.sequence, body: body.bytes))
        if op.sequence % SignedHead.signingInterval == 0 { try signOwnHead(in: db) }
        try LedgerIndexes.indexAtOnce(op, receiver: replica, in: db)
        let first = openHistoryRange ?? op.sequence
        try LedgerIndexes.deferIndexing(origin: op.origin, first: first, last: op.sequence, in: db)
        openHistoryRange = first
    }

    /// Applies an operation's CRDT deltas to the materialised tables and re-evaluates alerts. The operation's own
    /// event is appended unless `announced` (a merge announces its whole batch at once).
    private func materialize(
        _ op: LedgerOperation, in db: Database, events: inout CommittedEvents, knownCounter: PNCounter? = nil,
        knownProduct: ProductRecord.Summary? = nil, announced: Bool = false
    ) throws {
        if !announced { events.append(.operation(op)) }
        if op.product != nil { cache.forgetProduct(op.sku) }
        if op.kind == .reorderOverride, let warehouse = op.warehouse, let patch = op.product, let point = patch.reorderPoint {
            if try ReorderOverrideRecord.merge(
                sku: op.sku, warehouse: warehouse, reorderPoint: point, timestamp: op.timestamp, replica: op.origin, in: db),
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
                try ProductRecord.save(metadata, sku: op.sku, in: db)
                if metadata.reorderPoint != before.reorderPoint || metadata.isDeleted != before.isDeleted {
                    try reevaluateAlerts(sku: op.sku, product: metadata, origin: op.origin, in: db, events: &events)
                }
            }
        }
        if let transfer = op.transfer {
            try TransferRecord.merge(transfer, sku: op.sku, timestamp: op.timestamp, in: db)
        }
        if let back = op.transferBack {
            try TransferRecord.merge(back, sku: op.sku, timestamp: op.timestamp, in: db)
        }
        if let entry = op.counter, let warehouse = op.warehouse {
            var counter: PNCounter
            if let knownCounter {
                counter = knownCounter
            } else {
                counter = try StockCounterRecord.counter(sku: op.sku, warehouse: warehouse, in: db)
                counter.merge(PNCounter(entries: [op.origin: entry]))
            }
            try StockCounterRecord.save(
                counter.entry(for: op.origin), at: op.timestamp, sku: op.sku, warehouse: warehouse, replica: op.origin, in: db)
            let product = try knownProduct ?? ProductRecord.summary(sku: op.sku, warehouse: warehouse, in: db)
            // Without a reorder point there is no alert to raise or clear: a change of the reorder point
            // re-evaluates every warehouse (see `reevaluateAlerts`).
            if let reorderPoint = product.reorderPoint, !product.deleted {
                try evaluateAlert(
                    sku: op.sku, warehouse: warehouse.rawValue, quantity: counter.value, reorderPoint: reorderPoint,
                    in: db, events: &events)
            }
        }
    }

    /// Re-evaluates the alerts of `sku` after its reorder point (or deletion, or a warehouse's override) changed.
    ///
    /// The warehouses evaluated: `origin` (the warehouse of the node where the change was made, so that a product
    /// created with a reorder point and no stock there raises its alert at once) and every warehouse holding a
    /// stock row or an override of the SKU, never every member blindly. Local and merged operations both come here
    /// through `materialize`, so every node evaluates the same warehouses.
    private func reevaluateAlerts(
        sku: SKU, product: ProductMetadata, origin: ReplicaID, in db: Database, events: inout CommittedEvents
    ) throws {
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT w.warehouse,
                   coalesce((SELECT sum(s.increments) - sum(s.decrements) FROM stock_counters s
                             WHERE s.sku = :sku AND s.warehouse = w.warehouse), 0),
                   (SELECT o.reorder_point FROM reorder_overrides o WHERE o.sku = :sku AND o.warehouse = w.warehouse)
            FROM (SELECT warehouse FROM stock_counters WHERE sku = :sku
                  UNION SELECT warehouse FROM reorder_overrides WHERE sku = :sku
                  UNION SELECT :origin) w
            """), arguments: ["sku": sku.rawValue, "origin": origin.rawValue])
        let point = product.isDeleted ? nil : (product.reorderPoint?.value ?? nil)
        for row in rows {
            let effective = product.isDeleted ? nil : (row[2] as Int64?) ?? point
            try evaluateAlert(sku: sku, warehouse: row[0], quantity: row[1], reorderPoint: effective, in: db, events: &events)
        }
    }

    /// Raises an alert once when stock is at or below the reorder point; clears it when stock rises above.
    ///
    /// The alert's time is ``AlertRecord/decidingTimeSQL``, read after the operation is materialised, and kept up to
    /// date while the alert stands: a function of the operations held, the same on every node.
    private func evaluateAlert(
        sku: SKU, warehouse: String, quantity: Int64, reorderPoint: Int64?, in db: Database, events: inout CommittedEvents
    ) throws {
        if let reorderPoint, quantity <= reorderPoint {
            let decidingTime = try Int64.fetchOne(
                db.cachedStatement(sql: AlertRecord.decidingTimeSQL), arguments: [sku.rawValue, warehouse]) ?? 0
            let standing = try db.cachedStatement(sql: "SELECT 1 FROM alerts WHERE sku = ? AND warehouse = ?")
            let isNew = try Int64.fetchOne(standing, arguments: [sku.rawValue, warehouse]) == nil
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO alerts (sku, warehouse, quantity, reorder_point, raised_hlc) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (sku, warehouse) DO UPDATE SET
                    quantity = excluded.quantity, reorder_point = excluded.reorder_point, raised_hlc = excluded.raised_hlc
                """)
            try upsert.execute(arguments: [sku.rawValue, warehouse, quantity, reorderPoint, decidingTime])
            if isNew {
                events.append(.alertRaised(AlertRecord(
                    sku: sku.rawValue, warehouse: warehouse, quantity: quantity, reorderPoint: reorderPoint,
                    raisedAt: HLCTimestamp(rawValue: UInt64(bitPattern: decidingTime)))))
            }
        } else {
            let delete = try db.cachedStatement(sql: "DELETE FROM alerts WHERE sku = ? AND warehouse = ?")
            try delete.execute(arguments: [sku.rawValue, warehouse])
            if db.changesCount > 0 { events.append(.alertCleared(sku: sku.rawValue, warehouse: warehouse)) }
        }
    }

    // MARK: - Lookups and checks

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

    static func validateReorderPoint(_ point: Int64) throws(StoreError) {
        guard (0...Quantity.range.upperBound).contains(point) else {
            throw .invalidInput("reorder point must be from 0 to \(Quantity.range.upperBound), got \(point)")
        }
    }
}
