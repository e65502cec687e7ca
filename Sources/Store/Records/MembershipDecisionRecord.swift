import CRDT
import Foundation
import GRDB

/// A row of `membership_decisions` (migration `v15-membership-decisions`): per warehouse, the newest
/// ``MembershipDecision`` held, as signed, to forward in every hello.
struct MembershipDecisionRecord: FetchableRecord, PersistableRecord {
    static let databaseTableName = "membership_decisions"

    enum Columns {
        static let warehouse = Column("warehouse")
        static let retired = Column("retired")
        static let hlc = Column("hlc")
        static let actor = Column("actor")
        static let issuer = Column("issuer")
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
            issuer: row[Columns.issuer], signature: Array(row[Columns.signature] as Data))
    }

    func encode(to container: inout PersistenceContainer) {
        container[Columns.warehouse] = decision.warehouse
        container[Columns.retired] = decision.retired
        container[Columns.hlc] = Int64(bitPattern: decision.timestamp.rawValue)
        container[Columns.actor] = decision.actor
        container[Columns.issuer] = decision.issuer
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
