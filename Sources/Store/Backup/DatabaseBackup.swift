import CRDT
import Foundation
import GRDB

/// Consistent copies of a node's database, and the checks a file passes before it may become one.
///
/// A backup is SQLite's online backup (`sqlite3_backup_*`, through GRDB's `backup(to:)`) of the source read inside
/// one read transaction: on the node's WAL database that is a snapshot as of the transaction's start, taken
/// beside the single writer, which goes on committing (a WAL reader never blocks the writer; it only holds back
/// checkpoints past its snapshot until it ends). The copy is written to an owner-only temporary file, switched
/// to a rollback journal (one self-contained file, no `-wal` beside it), checked, synced and renamed into place.
public enum DatabaseBackup {
    /// Writes a consistent copy of `source` to `path` (replaced atomically if it exists).
    ///
    /// - Returns: what the written copy holds, read back from it after SQLite's integrity check.
    /// - Throws: `BackupError` when the copy cannot be written or does not check out; `path` is then unchanged.
    public static func write(from source: any DatabaseReader, to path: String) throws(BackupError) -> BackupSummary {
        let temporary = DurableFile.temporaryPath(beside: path)
        try DurableFile.createExclusive(temporary)
        do {
            let summary = try run {
                let destination = try DatabaseQueue(path: temporary, configuration: checkingConfiguration())
                try source.backup(to: destination)
                try destination.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
                let summary = try destination.read { db in try summarize(db) }
                try destination.close()
                return summary
            }
            try DurableFile.sync(temporary)
            try DurableFile.rename(temporary, to: path)
            return summary
        } catch {
            try? DurableFile.remove(temporary)
            throw error
        }
    }

    /// Writes a consistent copy of the database file at `databasePath` (served by a live node or not) to `path`.
    public static func write(databaseAt databasePath: String, to path: String) throws(BackupError) -> BackupSummary {
        guard FileManager.default.fileExists(atPath: databasePath) else { throw .io("no database at \(databasePath)") }
        let source = try run { try DatabasePool(path: databasePath, configuration: readOnlyConfiguration()) }
        defer { try? source.close() }
        return try write(from: source, to: path)
    }

    /// Checks a database file and says what it holds, without changing it.
    ///
    /// - Throws: `BackupError` for a file that is not an SQLite database, fails the integrity check, lacks the inv
    ///   schema or was written by a newer inv.
    public static func inspect(path: String) throws(BackupError) -> BackupSummary {
        try run {
            let queue = try DatabaseQueue(path: path, configuration: checkingConfiguration())
            defer { try? queue.close() }
            return try queue.read { db in try summarize(db) }
        }
    }

    /// Turns a copied backup file into a database ready to be served as `warehouse`'s after a restore, in place:
    /// rebuilt from its rows into a fresh schema, with its tokens when `keepTokens`, marked as catching up (see
    /// ``rebuild(from:into:warehouse:keepTokens:)``), one self-contained file.
    ///
    /// - Returns: what the prepared file holds.
    /// - Throws: `BackupError` as ``rebuild(from:into:warehouse:keepTokens:)``; `path` may then be changed (it is
    ///   a scratch copy).
    @discardableResult
    public static func prepareForRestore(path: String, warehouse: String, keepTokens: Bool = true) throws(BackupError) -> BackupSummary {
        let rebuilt = DurableFile.temporaryPath(beside: path, suffix: "rebuilt")
        try DurableFile.createExclusive(rebuilt)
        do {
            let result = try rebuild(from: path, into: rebuilt, warehouse: warehouse, keepTokens: keepTokens)
            try DurableFile.sync(rebuilt)
            for suffix in ["-wal", "-shm", "-journal"] { try DurableFile.remove(path + suffix) }
            try DurableFile.rename(rebuilt, to: path)
            return result.summary
        } catch {
            for suffix in ["", "-wal", "-shm", "-journal"] { try? DurableFile.remove(rebuilt + suffix) }
            throw error
        }
    }

    /// The API tokens revoked in the database at `databasePath`, by id, with when (milliseconds since 1970).
    ///
    /// Read from the database a restore is about to replace, so that its revocations survive the restore (see
    /// ``revoke(_:inDatabaseAt:)``). Call it only once the replacement has checked out: opening the database may
    /// checkpoint its WAL.
    /// - Throws: `BackupError` when the file cannot be read (a lost or damaged database: nothing to keep).
    public static func revokedTokens(databaseAt databasePath: String) throws(BackupError) -> [String: Int64] {
        guard FileManager.default.fileExists(atPath: databasePath) else { return [:] }
        return try run {
            let queue = try DatabaseQueue(path: databasePath, configuration: checkingConfiguration())
            defer { try? queue.close() }
            return try queue.read { db in
                guard try db.tableExists("tokens") else { return [:] }
                let rows = try Row.fetchAll(db, sql: "SELECT id, revoked_at FROM tokens WHERE revoked_at IS NOT NULL")
                return Dictionary(rows.map { ($0[0] as String, $0[1] as Int64) }, uniquingKeysWith: min)
            }
        }
    }

    /// Revokes again, in a database prepared for a restore (``rebuild(from:into:warehouse:keepTokens:)``), the tokens of
    /// `revocations` that it holds live.
    ///
    /// Why: API tokens are node-local (never replicated), so a backup's token table is the one as of the backup,
    /// and a token revoked since would work again after the restore. Revoking it again in the restored copy is safe
    /// whatever else happened since: a revocation only ever removes access. Tokens created after the backup stay
    /// gone, and rotations after it are not replayed (the backup's secrets answer again). Writes outside the single
    /// writer for the reason ``rebuild(from:into:warehouse:keepTokens:)`` does.
    /// - Parameter revocations: from ``revokedTokens(databaseAt:)`` of the replaced database.
    /// - Returns: how many tokens were revoked again.
    public static func revoke(_ revocations: [String: Int64], inDatabaseAt path: String) throws(BackupError) -> Int {
        guard !revocations.isEmpty else { return 0 }
        return try run {
            let queue = try DatabaseQueue(path: path, configuration: checkingConfiguration())
            defer { try? queue.close() }
            return try queue.write { db -> Int in
                var kept = 0
                for (id, revokedAt) in revocations.sorted(by: { $0.key < $1.key }) {
                    try db.execute(
                        sql: "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [revokedAt, id])
                    kept += db.changesCount
                }
                return kept
            }
        }
    }

    static func checkingConfiguration() -> Configuration {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in try LedgerSQLFunctions.register(on: db) }
        return configuration
    }

    /// For reading a database a live node may be writing: never writes, waits out the writer's locks.
    static func readOnlyConfiguration() -> Configuration {
        var configuration = checkingConfiguration()
        configuration.readonly = true
        return configuration
    }

    /// Integrity, schema and contents of an open database.
    static func summarize(_ db: Database) throws -> BackupSummary {
        let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check")
        guard integrity == ["ok"] else { throw BackupError.damaged(integrity.prefix(3).joined(separator: "; ")) }
        guard try db.tableExists("grdb_migrations"), try db.tableExists("node"),
              try db.tableExists("ledger") || db.tableExists("operations") else {
            throw BackupError.notAnInvDatabase("no inv schema")
        }
        let migrator = StoreMigrator.migrator
        if try migrator.hasBeenSuperseded(db) {
            let known = Set(migrator.migrations)
            let unknown = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations").filter { !known.contains($0) }
            throw BackupError.newerSchema(unknown.joined(separator: ", "))
        }
        let applied = try migrator.appliedMigrations(db)
        guard let schema = applied.last, applied.first == migrator.migrations.first else {
            throw BackupError.notAnInvDatabase("no inv schema migrations")
        }
        guard let node = try NodeRecord.load(db) else { throw BackupError.notAnInvDatabase("no node identity") }
        // Backups made before migration v5 have no flag: they are not catching up.
        var catchingUp = false
        if try db.columns(in: "node").contains(where: { $0.name == "catching_up" }) { catchingUp = try NodeRecord.isCatchingUp(db) }
        return BackupSummary(
            warehouse: node.replica.rawValue, operations: try Int.fetchOne(db, sql: "SELECT count(*) FROM operations") ?? 0,
            versionVector: try VersionVectorRecord.load(db), schema: schema, catchingUp: catchingUp)
    }

    /// Runs SQLite work, turning its errors into one-line `BackupError`s.
    static func run<T>(_ body: () throws -> T) throws(BackupError) -> T {
        do { return try body() } catch let error as BackupError {
            throw error
        } catch let error as DatabaseError {
            switch error.resultCode {
            case .SQLITE_NOTADB: throw .notAnInvDatabase("not an SQLite database")
            case .SQLITE_CORRUPT: throw .damaged(error.message ?? "database disk image is malformed")
            default: throw .io("SQLite: \(error.message ?? "\(error.resultCode)")")
            }
        } catch let error as StoreError {
            throw .notAnInvDatabase(error.description)
        } catch {
            throw .io("\(error)")
        }
    }
}
