import CRDT
import Foundation
import GRDB

/// A row of `membership_decisions` (migrations `v15-membership-decisions`, `v16-membership-self-retirement`): per
/// warehouse, the newest ``MembershipDecision`` held, as signed, to forward in hellos.
struct MembershipDecisionRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "membership_decisions"

    enum Columns {
        static let warehouse = Column("warehouse")
        static let retired = Column("retired")
        static let hlc = Column("hlc")
        static let actor = Column("actor")
        static let issuer = Column("issuer")
        static let signer = Column("signer")
        static let signature = Column("signature")
    }

    var decision: MembershipDecision

    init(_ decision: MembershipDecision) {
        self.decision = decision
    }

    init(row: Row) {
        decision = MembershipDecision(
            warehouse: row[Columns.warehouse], retired: row[Columns.retired],
            timestamp: HLCTimestamp(rawValue: UInt64(bitPattern: row[Columns.hlc])), actor: row[Columns.actor],
            issuer: row[Columns.issuer], signer: MembershipDecision.Signer(rawValue: row[Columns.signer]) ?? .clusterCA,
            signature: Array(row[Columns.signature] as Data))
    }

    func encode(to container: inout PersistenceContainer) {
        container[Columns.warehouse] = decision.warehouse
        container[Columns.retired] = decision.retired
        container[Columns.hlc] = Int64(bitPattern: decision.timestamp.rawValue)
        container[Columns.actor] = decision.actor
        container[Columns.issuer] = decision.issuer
        container[Columns.signer] = decision.signer.rawValue
        container[Columns.signature] = Data(decision.signature)
    }

    /// A decision replaces the one held for its warehouse (the caller decided it is newer).
    static let persistenceConflictPolicy = PersistenceConflictPolicy(insert: .replace)

    static func fetch(warehouse: String, in db: Database) throws -> MembershipDecision? {
        try filter(Columns.warehouse == warehouse).fetchOne(db)?.decision
    }

    static func fetchAll(in db: Database) throws -> [MembershipDecision] {
        try order(Columns.warehouse).fetchAll(db).map(\.decision)
    }

    static func save(_ decision: MembershipDecision, in db: Database) throws {
        try MembershipDecisionRecord(decision).insert(db)
    }
}

/// A row of `membership_decision_log` (migration `v16-membership-self-retirement`): every decision this node took,
/// superseded ones included, for history. Not forwarded: peers get the newest per warehouse, as signed.
struct MembershipDecisionLogRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "membership_decision_log"

    enum Columns {
        static let warehouse = Column("warehouse")
        static let hlc = Column("hlc")
        static let issuer = Column("issuer")
        static let retired = Column("retired")
        static let actor = Column("actor")
        static let signer = Column("signer")
    }

    var entry: MembershipDecisionEntry

    init(_ decision: MembershipDecision) {
        entry = MembershipDecisionEntry(
            warehouse: decision.warehouse, retired: decision.retired, timestamp: decision.timestamp,
            actor: decision.actor, issuer: decision.issuer, signer: decision.signer)
    }

    init(row: Row) {
        entry = MembershipDecisionEntry(
            warehouse: row[Columns.warehouse], retired: row[Columns.retired],
            timestamp: HLCTimestamp(rawValue: UInt64(bitPattern: row[Columns.hlc])), actor: row[Columns.actor],
            issuer: row[Columns.issuer], signer: MembershipDecision.Signer(rawValue: row[Columns.signer]) ?? .clusterCA)
    }

    func encode(to container: inout PersistenceContainer) {
        container[Columns.warehouse] = entry.warehouse
        container[Columns.hlc] = Int64(bitPattern: entry.timestamp.rawValue)
        container[Columns.issuer] = entry.issuer
        container[Columns.retired] = entry.retired
        container[Columns.actor] = entry.actor
        container[Columns.signer] = entry.signer.rawValue
    }

    /// The same decision arriving again (each whole hello forwards it) is logged once.
    static let persistenceConflictPolicy = PersistenceConflictPolicy(insert: .ignore)

    /// Every logged decision, oldest first.
    static func fetchAll(in db: Database) throws -> [MembershipDecisionEntry] {
        try order(Columns.hlc, Columns.warehouse, Columns.issuer, Columns.retired).fetchAll(db).map(\.entry)
    }
}
