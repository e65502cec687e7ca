import CRDT
import GRDB

/// Rows of `version_vector`: the highest contiguous sequence held per origin.
///
/// Statements, not a GRDB record type: it is on every write's path (see ``BoundStatement``).
enum VersionVectorRecord {
    static func load(_ db: Database) throws -> VersionVector {
        var entries: [ReplicaID: UInt64] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT origin, sequence FROM version_vector") {
            let raw: String = row[0]
            do { entries[try ReplicaID(raw)] = UInt64(row[1] as Int64) } catch {
                throw StoreError.storage("bad replica id in version vector: \(raw)")
            }
        }
        return VersionVector(entries)
    }

    static func sequence(of origin: ReplicaID, in db: Database) throws -> UInt64 {
        let statement = try db.cachedStatement(sql: "SELECT sequence FROM version_vector WHERE origin = ?")
        return UInt64(try Int64.fetchOne(statement, arguments: [origin.rawValue]) ?? 0)
    }

    static func save(origin: ReplicaID, sequence: UInt64, in db: Database) throws {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO version_vector (origin, sequence) VALUES (?, ?)
            ON CONFLICT (origin) DO UPDATE SET sequence = max(sequence, excluded.sequence)
            """)
        try statement.execute(arguments: [origin.rawValue, Int64(sequence)])
    }
}
