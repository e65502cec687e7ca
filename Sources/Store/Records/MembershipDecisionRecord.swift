import CRDT
import Foundation
import GRDB

/// The table `membership_decisions` (migration `v15-membership-decisions`): per warehouse, the newest
/// ``MembershipDecision`` held, as signed, to forward in every hello.
enum MembershipDecisionRecord {
    static func fetch(warehouse: String, in db: Database) throws -> MembershipDecision? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM membership_decisions WHERE warehouse = ?"), arguments: [warehouse]
        ).map(decision)
    }

    static func fetchAll(in db: Database) throws -> [MembershipDecision] {
        try Row.fetchAll(db, sql: "SELECT * FROM membership_decisions ORDER BY warehouse").map(decision)
    }

    static func save(_ decision: MembershipDecision, in db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO membership_decisions (warehouse, retired, hlc, actor, issuer, signature)
            VALUES (?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                decision.warehouse, decision.retired, Int64(bitPattern: decision.timestamp.rawValue), decision.actor,
                decision.issuer, Data(decision.signature),
            ])
    }

    private static func decision(_ row: Row) -> MembershipDecision {
        MembershipDecision(
            warehouse: row["warehouse"], retired: row["retired"], timestamp: HLCTimestamp(rawValue: UInt64(bitPattern: row["hlc"])),
            actor: row["actor"], issuer: row["issuer"], signature: Array(row["signature"] as Data))
    }
}
