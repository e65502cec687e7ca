import CRDT
import GRDB

/// The single row of `node`: this node's replica id, the last HLC it issued and whether it is catching up after a
/// restore.
///
/// Statements, not a GRDB record type: it is on every write's path (see ``BoundStatement``).
enum NodeRecord {
    static func load(_ db: Database) throws -> (replica: ReplicaID, lastHLC: HLCTimestamp)? {
        guard let row = try Row.fetchOne(db, sql: "SELECT replica, last_hlc FROM node WHERE id = 1") else { return nil }
        let raw: String = row[0]
        do { return (try ReplicaID(raw), HLCTimestamp(rawValue: UInt64(row[1] as Int64))) } catch {
            throw StoreError.storage("bad replica id in node table: \(raw)")
        }
    }

    static func create(replica: ReplicaID, in db: Database) throws {
        try db.execute(sql: "INSERT INTO node (id, replica, last_hlc) VALUES (1, ?, 0)", arguments: [replica.rawValue])
    }

    static func saveClock(_ hlc: HLCTimestamp, in db: Database) throws {
        try db.cachedStatement(sql: "UPDATE node SET last_hlc = max(last_hlc, ?) WHERE id = 1")
            .execute(arguments: [Int64(hlc.rawValue)])
    }

    /// Whether the node was restored from a backup and has not yet caught up with its peers.
    static func isCatchingUp(_ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT catching_up FROM node WHERE id = 1") ?? false
    }

    static func setCatchingUp(_ catchingUp: Bool, in db: Database) throws {
        try db.execute(sql: "UPDATE node SET catching_up = ? WHERE id = 1", arguments: [catchingUp])
    }
}
