import Foundation
import GRDB

/// Restoring a backup as data: the rows of the file, copied into a schema that this inv's own migrations made.
///
/// Why not serve the file itself: a backup is an SQLite database, and a database carries code as well as data. A
/// trigger planted in it runs inside the node's writer (one was shown to mint an admin token whenever the real admin
/// created one), a view can stand where a table is expected, and a table's definition can lose its `CHECK`s. So a
/// restore reads only rows: the tables the inv schema has, the columns it has, through the constraints of a fresh
/// schema; whatever else the file holds (triggers, views, tables, indexes, changed definitions) is left behind and
/// named in ``Rebuilt/ignoredObjects``. API tokens are node-local secrets, so a backup's are taken only on request.
extension DatabaseBackup {
    /// What a rebuild made.
    public struct Rebuilt: Sendable {
        /// What the rebuilt database holds.
        public var summary: BackupSummary
        /// How many tokens the backup held.
        public var tokensInBackup: Int
        /// Whether the backup's tokens were copied.
        public var keptTokens: Bool
        /// Schema objects of the backup that the inv schema does not have, or has with another definition, as
        /// `type name` (`trigger mint_admin`): none of them was restored.
        public var ignoredObjects: [String]
    }

    /// Tables rebuilt from the ledger rather than copied: a planted row in them would make the store lie to its
    /// readers (see `LedgerIndexes`).
    static let derivedIndexTables: Set<String> = ["sku_index", "hlc_index", "movement_index", "sku_index_backlog"]

    /// Builds at `destination` (which must not exist) a database ready to be served as `warehouse`'s after a
    /// restore, from the rows of the backup file at `source`: a fresh schema by ``StoreMigrator``, every table of it
    /// filled from the backup's table of the same name (the ledger's own indexes rebuilt from the ledger), tokens
    /// the backup's only when `keepTokens` (otherwise none: see ``add(_:inDatabaseAt:)``), marked as catching up (see `StoreError.catchingUp`), one self-contained file.
    ///
    /// `source` must be a scratch copy: it is migrated in place to this inv's schema first (after its triggers are
    /// dropped, so none runs), since the migrations are what turns an older backup's rows into today's.
    ///
    /// Writes outside the single writer on purpose: neither file is any node's database yet, and the caller holds the
    /// data directory's lock, so no node can open them meanwhile (as with migrations at start).
    ///
    /// - Throws: `BackupError` as ``inspect(path:)``; `.otherWarehouse`; `.notAnInvDatabase` when a table of the inv
    ///   schema is missing from the backup or lacks a column; `.io` when a row breaks a constraint of the schema.
    public static func rebuild(
        from source: String, into destination: String, warehouse: String, keepTokens: Bool
    ) throws(BackupError) -> Rebuilt {
        try run {
            let backup = try DatabaseQueue(path: source, configuration: checkingConfiguration())
            let found = try backup.read { db in try summarize(db) }
            guard found.warehouse == warehouse else { throw BackupError.otherWarehouse(found: found.warehouse, expected: warehouse) }
            let triggers = try backup.writeWithoutTransaction { db in
                let names = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
                for name in names { try db.execute(sql: "DROP TRIGGER \(name.quotedDatabaseIdentifier)") }
                return names
            }
            try StoreMigrator.migrator.migrate(backup)
            try backup.close()

            let fresh = try DatabaseQueue(path: destination, configuration: checkingConfiguration())
            defer { try? fresh.close() }
            try StoreMigrator.migrator.migrate(fresh)
            var rebuilt = try fresh.writeWithoutTransaction { db -> Rebuilt in
                try db.execute(sql: "ATTACH DATABASE ? AS backup", arguments: [source])
                defer { try? db.execute(sql: "DETACH DATABASE backup") }
                var rebuilt: Rebuilt?
                try db.inTransaction {
                    let ignored = try ignoredObjects(in: db)
                    let tables = try String.fetchAll(db, sql: """
                        SELECT name FROM main.sqlite_master
                        WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'grdb_migrations' ORDER BY name
                        """)
                    for table in tables where !derivedIndexTables.contains(table) && table != "tokens" {
                        try copyRows(of: table, in: db)
                    }
                    let tokensInBackup = try Int.fetchOne(db, sql: "SELECT count(*) FROM backup.tokens") ?? 0
                    if keepTokens { try copyRows(of: "tokens", in: db) }
                    try rebuildLedgerIndexes(in: db)
                    try NodeRecord.setCatchingUp(true, in: db)
                    rebuilt = Rebuilt(
                        summary: found, tokensInBackup: tokensInBackup, keptTokens: keepTokens,
                        ignoredObjects: triggers.map { "trigger \($0)" } + ignored)
                    return .commit
                }
                guard let rebuilt else { throw BackupError.io("the rebuild did not commit") }
                return rebuilt
            }
            rebuilt.summary = try fresh.read { db in try summarize(db) }
            try fresh.close()
            return rebuilt
        }
    }

    /// Copies every row of the backup's `table` into the fresh one, column by column of the fresh schema.
    private static func copyRows(of table: String, in db: Database) throws {
        let kind = try String.fetchOne(db, sql: "SELECT type FROM backup.sqlite_master WHERE name = ?", arguments: [table])
        guard kind == "table" else { throw BackupError.notAnInvDatabase("it has no table \(table)") }
        let columns = try db.columns(in: table, in: "main").map(\.name)
        let present = Set(try db.columns(in: table, in: "backup").map(\.name))
        if let missing = columns.first(where: { !present.contains($0) }) {
            throw BackupError.notAnInvDatabase("its table \(table) has no column \(missing)")
        }
        let list = columns.map(\.quotedDatabaseIdentifier).joined(separator: ", ")
        let name = table.quotedDatabaseIdentifier
        do {
            try db.execute(sql: "INSERT INTO main.\(name) (\(list)) SELECT \(list) FROM backup.\(name)")
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw BackupError.io("a row of its table \(table) breaks the inv schema (\(error.message ?? "constraint failed"))")
        }
    }

    /// Schema objects of the backup (migrated, triggers gone) that the fresh schema lacks or defines otherwise.
    private static func ignoredObjects(in db: Database) throws -> [String] {
        try Row.fetchAll(db, sql: """
            SELECT b.type, b.name FROM backup.sqlite_master b
            WHERE b.name NOT LIKE 'sqlite_%' AND b.name <> 'grdb_migrations' AND NOT EXISTS (
                SELECT 1 FROM main.sqlite_master m WHERE m.type = b.type AND m.name = b.name AND m.sql IS b.sql)
            ORDER BY b.type, b.name
            """).map { "\($0[0] as String) \($0[1] as String)" }
    }

    /// Fills the ledger's index tables from the ledger itself: every origin's range in the backlog, then the
    /// backlog indexed to the end, as the writer would (see `LedgerIndexes`).
    private static func rebuildLedgerIndexes(in db: Database) throws {
        try db.execute(sql: """
            INSERT INTO sku_index_backlog (origin, first_sequence, last_sequence)
            SELECT origin, min(sequence), max(sequence) FROM ledger GROUP BY origin
            """)
        while try LedgerIndexes.indexBacklog(limit: 100_000, in: db) {}
    }

    /// Adds `tokens` (those of the database a restore replaces) to a database rebuilt without the backup's.
    ///
    /// Writes outside the single writer for the reason ``rebuild(from:into:warehouse:keepTokens:)`` does.
    public static func add(_ tokens: [TokenRecord], inDatabaseAt path: String) throws(BackupError) {
        guard !tokens.isEmpty else { return }
        try run {
            let queue = try DatabaseQueue(path: path, configuration: checkingConfiguration())
            defer { try? queue.close() }
            try queue.write { db in for token in tokens { try insert(token, in: db) } }
        }
    }

    private static func insert(_ token: TokenRecord, in db: Database) throws {
        try db.execute(sql: """
            INSERT INTO tokens (
                id, name, role, secret_hash, created_at, revoked_at, previous_secret_hash, previous_expires_at, rotated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [
                token.id, token.name, token.role.rawValue, token.secretHash, token.createdAt, token.revokedAt,
                token.previousSecretHash, token.previousExpiresAt, token.rotatedAt,
            ])
    }

    /// The API tokens of the database at `databasePath` (none when there is no file), to keep them across a restore.
    /// - Throws: `BackupError` when the file cannot be read (a lost or damaged database).
    public static func tokens(databaseAt databasePath: String) throws(BackupError) -> [TokenRecord] {
        guard FileManager.default.fileExists(atPath: databasePath) else { return [] }
        return try run {
            let queue = try DatabaseQueue(path: databasePath, configuration: checkingConfiguration())
            defer { try? queue.close() }
            return try queue.read { db in
                guard try db.tableExists("tokens") else { return [] }
                return try TokenRecord.fetchAll(db, sql: "SELECT * FROM tokens ORDER BY id")
            }
        }
    }
}
