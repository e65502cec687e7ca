import CRDT
import Foundation
import GRDB
import Store
import Testing

/// `DatabaseBackup.rebuild`: a restore takes the backup's rows into a fresh schema, never its schema objects.
@Suite("Restoring a backup from its rows")
struct RestoreRebuildTests {
    /// A backup of MAD with a product, three movements and a staff token.
    static func backup(in directory: TemporaryDirectory) async throws -> String {
        let path = directory.file("backup.sqlite")
        let mad = try openStore("MAD", in: directory)
        defer { mad.close() }
        try await mad.addProduct("A")
        try await mad.move(.receive, "A", 10)
        try await mad.move(.sell, "A", 3)
        try await mad.move(.receive, "A", 1)
        _ = try await mad.submit(.createToken(TokenRecord(
            id: "t1", name: "till", role: .staff, secretHash: String(repeating: "a", count: 64), createdAt: 1)))
        _ = try DatabaseBackup.write(from: mad.pool, to: path)
        return path
    }

    static func tamper(_ path: String, _ sql: String) throws {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        try queue.writeWithoutTransaction { db in try db.execute(sql: sql) }
    }

    static func counts(_ path: String, _ queries: [String]) throws -> [Int] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in try queries.map { try Int.fetchOne(db, sql: $0) ?? -1 } }
    }

    static func objects(_ path: String) throws -> [String] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            try String.fetchAll(db, sql: "SELECT type || ' ' || name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY 1")
        }
    }

    @Test("planted objects and index rows are left behind; the rebuilt store is consistent and serves")
    func plantedObjectsAreLeftBehind() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let backup = try await Self.backup(in: directory)
        let clean = try Self.objects(backup)
        try Self.tamper(backup, """
            CREATE TRIGGER grow AFTER INSERT ON ledger BEGIN INSERT INTO loot VALUES (new.origin); END;
            CREATE TABLE loot (x);
            CREATE INDEX peek ON tokens(secret_hash);
            CREATE VIEW every_secret AS SELECT secret_hash FROM tokens;
            INSERT INTO sku_index (sku, hlc, origin, sequence) VALUES ('GHOST', 1, 'MAD', 99);
            INSERT INTO sku_index_backlog (origin, first_sequence, last_sequence) VALUES ('ZZZ', 1, 1000000);
            """)
        let rebuilt = directory.file("rebuilt.sqlite")
        let result = try DatabaseBackup.rebuild(from: backup, into: rebuilt, warehouse: "MAD", keepTokens: false)
        #expect(result.ignoredObjects == ["trigger grow", "index peek", "table loot", "view every_secret"])
        #expect(result.tokensInBackup == 1 && !result.keptTokens)
        #expect(result.summary.catchingUp && result.summary.operations == 4)
        #expect(try Self.objects(rebuilt) == clean)

        let counts = try Self.counts(rebuilt, [
            "SELECT count(*) FROM tokens", "SELECT count(*) FROM sku_index_backlog",
            "SELECT count(*) FROM sku_index WHERE sku = 'GHOST'", "SELECT count(*) FROM sku_index",
            "SELECT count(*) FROM hlc_index", "SELECT count(*) FROM movement_index",
        ])
        #expect(counts == [0, 0, 0, 4, 4, 3])
        let store = try NodeStore(path: rebuilt, replica: rid("MAD"))
        defer { store.close() }
        #expect(try store.onHand("A") == 8)
        #expect(try store.reader.operations(origin: rid("MAD"), after: 0, limit: 10).count == 4)
        #expect(try store.reader.isCatchingUp())
    }

    @Test("the backup's tokens only when asked for")
    func tokensOnlyWhenKept() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let backup = try await Self.backup(in: directory)
        let rebuilt = directory.file("rebuilt.sqlite")
        let result = try DatabaseBackup.rebuild(from: backup, into: rebuilt, warehouse: "MAD", keepTokens: true)
        #expect(result.keptTokens && result.ignoredObjects.isEmpty)
        let store = try NodeStore(path: rebuilt, replica: rid("MAD"))
        defer { store.close() }
        #expect(try store.reader.tokens().map(\.id) == ["t1"])
    }

    @Test("a table whose definition lost its checks, or a view standing for a table, refuses the restore")
    func changedDefinitionsAreRefused() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let original = try await Self.backup(in: directory)
        let cases: [(String, String)] = [
            // A role the schema does not know, in a tokens table rebuilt without its CHECK.
            ("""
            CREATE TABLE tokens2 AS SELECT * FROM tokens; DROP TABLE tokens; ALTER TABLE tokens2 RENAME TO tokens;
            INSERT INTO tokens (id, name, role, secret_hash, created_at) VALUES ('x', 'x', 'root', 'h', 1);
            """, "breaks the inv schema"),
            ("""
            CREATE TABLE c2 AS SELECT * FROM stock_counters; DROP TABLE stock_counters; ALTER TABLE c2 RENAME TO stock_counters;
            UPDATE stock_counters SET decrements = -5;
            """, "breaks the inv schema"),
            ("CREATE TABLE t2 AS SELECT * FROM transfers; DROP TABLE transfers; CREATE VIEW transfers AS SELECT * FROM t2;",
             "no table transfers"),
            // Without a ledger table it is no inv database at all.
            ("CREATE TABLE l2 AS SELECT * FROM ledger; DROP TABLE ledger; CREATE VIEW ledger AS SELECT * FROM l2;", "no inv schema"),
            ("ALTER TABLE alerts DROP COLUMN raised_hlc;", "no column raised_hlc"),
        ]
        for (index, (sql, reason)) in cases.enumerated() {
            let backup = directory.file("case-\(index).sqlite")
            try FileManager.default.copyItem(atPath: original, toPath: backup)
            try Self.tamper(backup, sql)
            let rebuilt = directory.file("rebuilt-\(index).sqlite")
            do {
                _ = try DatabaseBackup.rebuild(from: backup, into: rebuilt, warehouse: "MAD", keepTokens: true)
                Issue.record("case \(index) was restored")
            } catch {
                #expect(error.description.contains(reason), "case \(index): \(error)")
            }
        }
    }
}
