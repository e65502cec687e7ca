import CRDT
// swift-crypto 3.12 does not yet mark its keys Sendable; they are immutable.
@preconcurrency import Crypto
import Foundation
import GRDB

/// Turns write commands into ledger operations and applies operations to the materialised state.
///
/// Owned by the single writer thread and called inside its transaction. This file dispatches the commands and keeps
/// this node's own ledger (sequences, clock, chain); each concept has its file: local commands (`+Commands`,
/// `+Transfers`, `+Documents`, `+Import`, `+Barcodes`), administration (`+Administration`), merging (`+Merge`),
/// materialisation (`+Materialisation`) and alerts (`+Alerts`).
///
/// Local commands are validated against the state this node holds, then recorded as an ``LedgerOperation``
/// carrying CRDT deltas; remote operations are checked against the cluster's rules and merged. Every change of the
/// materialised state goes through ``materialize(_:from:in:events:rows:)``: a local operation as a batch of
/// one, a merge's accepted operations as one batch. So the materialised state is a function of the set of
/// operations held, whatever their arrival order or batching.
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
    let clusterKey: P256.Signing.PublicKey?
    /// Whether each batch appends the stock of the counters it changed to its events (see ``CommittedEvents``): set
    /// by the writer for each transaction, when someone listens for it.
    var reportsStock = false

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

    /// The highest own sequence whose chain head is stored, signed when the node has a key: what a peer can be
    /// sent with its proof.
    var provenOwnSequence: UInt64 { storedOwnTip }

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
    func currentVersionVector(in db: Database) throws -> VersionVector {
        var vector = try VersionVectorRecord.load(db)
        if nextSequence > 1 { vector.advance(replica, to: nextSequence - 1) }
        return vector
    }

    // MARK: - Dispatch

    /// Applies one write command inside the writer's transaction: each kind goes to the file of its concept
    /// (`+Commands`, `+Transfers`, `+Documents`, `+Import`, `+Administration`, `+Merge`).
    ///
    /// `receivedBodies`: for a merge decoded from a page that carried row bodies, those bodies by position, hashed
    /// and stored as they came (empty otherwise).
    mutating func apply(
        _ command: WriteCommand, receivedBodies: EncodedBodies = EncodedBodies(), in db: Database, events: inout CommittedEvents
    ) throws(StoreError) -> WriteOutcome {
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
                return .merged(try merge(operations, proofs: proofs, receivedBodies: receivedBodies, in: db, events: &events))
            case let .addOriginCertificates(certificates):
                return try addOriginCertificates(certificates, in: db)
            case let .saveCheckpoint(checkpoint):
                return try saveCheckpoint(checkpoint, in: db)
            case let .decideMembership(decisions):
                return .members(changed: try decideMembership(decisions, in: db))
            case let .setMember(warehouse, peerURL, retired):
                return try setMember(warehouse, peerURL: peerURL, retired: retired, in: db)
            case let .announcedMembers(announcer, members):
                return try announcedMembers(members, by: announcer, in: db)
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

    // MARK: - Own operations

    /// Records a new local operation: ledger row, materialised state, version vector.
    mutating func record(
        _ op: LedgerOperation, in db: Database, events: inout CommittedEvents, counter: PNCounter? = nil,
        product: ProductRecord.Summary? = nil
    ) throws {
        try insert(op, in: db)
        var written = RowsWrittenAlready()
        try materialize([op][...], from: .local(counter: counter, product: product), in: db, events: &events, rows: &written)
        nextSequence += 1
    }

    /// Writes a local operation's ledger row. Its SKU and timestamp index rows are deferred like a merge's (see
    /// `LedgerIndexes`): the transaction's local sequences form one backlog range, extended in place (one hot
    /// page) instead of index rows on random pages. Its movement id is indexed at once, for the idempotency check,
    /// and so is a product operation's timestamp, for the conflict checks (see `LedgerIndexes`).
    private mutating func insert(_ op: LedgerOperation, in db: Database) throws {
        var body = ByteWriter(format: LedgerRowBody.version)
        try OperationRecord.insert(op, using: try BoundStatement(db, sql: OperationRecord.insertSQL), buffer: &body)
        // The chain over exactly the stored body, as receivers will recompute it.
        ownTip = ChainTip(sequence: op.sequence, hash: OriginChain.extend(ownTip.hash, sequence: op.sequence, body: body.bytes))
        if op.sequence % SignedHead.signingInterval == 0 { try signOwnHead(in: db) }
        try LedgerIndexes.indexAtOnce(op, receiver: replica, in: db)
        let first = openHistoryRange ?? op.sequence
        try LedgerIndexes.deferIndexing(origin: op.origin, first: first, last: op.sequence, in: db)
        openHistoryRange = first
    }

    /// After merging operations of this very node (only while catching up): the next sequence goes above every one
    /// now held, the stored own entry of the version vector is re-read, and the cache (which holds this
    /// warehouse's counters) is dropped.
    mutating func adoptOwnOperations(in db: Database) throws {
        let highest = try Int64.fetchOne(
            db, sql: "SELECT max(sequence) FROM ledger WHERE origin = ?", arguments: [replica.rawValue]) ?? 0
        nextSequence = max(nextSequence, UInt64(highest) + 1)
        storedOwnSequence = try VersionVectorRecord.sequence(of: replica, in: db)
        let stored = try ChainRecords.tip(of: replica, in: db)
        ownTip = (try? ChainRecords.tip(of: replica, from: stored, through: UInt64(highest), in: db)) ?? stored
        storedOwnTip = stored.sequence
        cache.clear()
    }
}
