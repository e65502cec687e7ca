import CRDT
import Foundation
import GRDB
@testable import Store
import Testing

/// The GRDB records' writes, against the store's own schema: what a second write of the same key does.
@Suite("Records: a repeated conflict is one row, a member's row is replaced, a decision replaces its warehouse's")
struct RecordPersistenceTests {
    private func migratedQueue(in directory: TemporaryDirectory) throws -> DatabaseQueue {
        let queue = try DatabaseQueue(path: directory.file("records.sqlite"))
        try StoreMigrator.migrator.migrate(queue)
        return queue
    }

    @Test func aConflictSeenTwiceIsOneRow() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let queue = try migratedQueue(in: directory)
        let conflict = ConflictRecord(
            kind: .concurrentUpdate, sku: "A", field: "name", kept: "new", keptOrigin: "MAD", keptAt: HLCTimestamp(rawValue: 2 << 16),
            overwritten: "old", overwrittenOrigin: "SEV", overwrittenAt: HLCTimestamp(rawValue: 1 << 16))
        try queue.write { db in
            try conflict.save(in: db)
            try conflict.save(in: db)
        }
        let rows = try queue.read { db in try ConflictRecord.fetchAll(db) }
        #expect(rows == [conflict])
    }

    @Test func aMemberWriteReplacesItsRowAndAMergeKeepsTheNewerStamp() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let queue = try migratedQueue(in: directory)
        let first = MemberRecord(warehouse: "SEV", peerURL: "https://sev:8443", retired: false, timestamp: HLCTimestamp(rawValue: 5 << 16), replica: "MAD")
        var newer = first
        newer.peerURL = "https://sev2:8443"
        newer.timestamp = HLCTimestamp(rawValue: 6 << 16)
        var older = first
        older.retired = true
        older.timestamp = HLCTimestamp(rawValue: 4 << 16)
        let changed = try queue.write { db -> [Bool] in
            try MemberRecord.replace(first, in: db)
            return [try MemberRecord.merge(newer, in: db), try MemberRecord.merge(older, in: db), try MemberRecord.merge(newer, in: db)]
        }
        #expect(changed == [true, false, false])
        #expect(try queue.read { db in try MemberRecord.fetchAll(db) } == [newer])
    }

    @Test func aTokenIsInsertedWithEveryField() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let queue = try migratedQueue(in: directory)
        let token = TokenRecord(id: "t1", name: "till-1", role: .staff, secretHash: String(repeating: "a", count: 64), createdAt: 1_000)
        try queue.write { db in try token.insert(db) }
        #expect(try queue.read { db in try TokenRecord.fetchAll(db) } == [token])
        #expect(throws: DatabaseError.self) { try queue.write { db in try token.insert(db) } }
    }
}
