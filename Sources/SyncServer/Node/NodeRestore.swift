import Foundation
import Store

/// `inv restore`: replaces a stopped node's database with one rebuilt from a backup's rows, and marks it as catching
/// up.
///
/// Steps, each leaving the data directory usable if the process dies in between:
/// 1. take the directory's lock (``DirectoryLock``), so the node cannot be live, nor start, meanwhile;
/// 2. copy the file into the directory under a temporary name (owner-only), and check the copy there: an SQLite
///    database passing `integrity_check`, with the inv schema, no migration unknown to this inv, and the
///    directory's warehouse as its identity;
/// 3. rebuild from the copy's rows a database of a fresh schema made by this inv's migrations (the copy's triggers,
///    views and other objects are left behind: see `DatabaseBackup.rebuild`), marked as catching up, with a
///    rollback journal (one file);
/// 4. tokens: by default the replaced database's own tokens are carried over and the backup's dropped (a backup is a
///    file anyone may have handled: a token planted in it must not open the node); with `--keep-tokens` the
///    backup's are restored, and those revoked in the replaced database revoked again;
/// 5. remove the old database's `-wal` and `-shm` (a stale WAL beside a new database would be replayed into it),
///    then rename the rebuilt database over `inv.sqlite` and sync the directory.
/// A refused file leaves the directory as it was.
///
/// Why the catch-up flag: an old backup lacks this node's own operations made after it, which peers may hold.
/// Issuing new operations at once would reuse their sequence numbers for different operations (replicas would
/// diverge) and sell from a stock that lacks the later sales. See `CatchUpGuard` for when writes resume.
public enum NodeRestore {
    /// What was restored, and where.
    public struct Restored: Codable, Sendable {
        public var file: String
        public var directory: String
        public var summary: BackupSummary
        /// Whether the backup's tokens were restored (`--keep-tokens`); otherwise the replaced database's were kept.
        public var keptBackupTokens: Bool
        /// How many tokens the backup held.
        public var tokensInBackup: Int
        /// How many tokens the restored database holds.
        public var tokens: Int
        /// Tokens live in the backup but revoked in the replaced database, revoked again in the restored one.
        public var revocationsKept: Int
        /// Schema objects of the backup that were not restored (`trigger mint_admin`): the inv schema lacks them.
        public var ignoredObjects: [String]
        /// Set when the replaced database's tokens could not be read (a damaged database).
        public var warning: String?

        /// One line for the admin saying whose tokens the node now has.
        public var tokensLine: String {
            func count(_ n: Int) -> String { "\(n) token\(n == 1 ? "" : "s")" }
            if keptBackupTokens {
                let revoked = revocationsKept == 0 ? "" : ", \(revocationsKept) revoked again as in the replaced database"
                return "tokens: restored the backup's \(count(tokensInBackup)) (--keep-tokens)\(revoked)"
            }
            return "tokens: kept the node's own \(count(tokens)); the backup's \(tokensInBackup) not restored (--keep-tokens restores them)"
        }
    }

    /// - Parameter keepTokens: restore the backup's tokens instead of keeping the replaced database's.
    /// - Throws: `NodeError` with one line: a live node, a missing directory, or a file that is no valid backup of
    ///   this warehouse (`BackupError`'s reason).
    public static func restore(file: String, into directory: DataDirectory, keepTokens: Bool = false) throws -> Restored {
        let config = try directory.loadConfig()
        guard let lock = try DirectoryLock(directory) else {
            throw NodeError.other("the node \(config.warehouse) in \(directory.path) is running; stop it before restoring")
        }
        defer { lock.release() }
        guard FileManager.default.isReadableFile(atPath: file) else { throw NodeError.other("cannot read \(file)") }
        let staging = directory.databaseFile + ".restoring"
        let copy = directory.databaseFile + ".restoring-copy"
        let database = directory.databaseFile
        let suffixes = ["", "-wal", "-shm", "-journal"]
        // Leftovers of a restore that died half-way are only ever the staging files.
        for path in [staging, copy] { for suffix in suffixes { try DurableFile.remove(path + suffix) } }
        let rebuilt: DatabaseBackup.Rebuilt
        var tokens = 0
        var revocationsKept = 0
        var warning: String?
        do {
            try DurableFile.copy(file, to: copy)
            try DurableFile.createExclusive(staging)
            rebuilt = try DatabaseBackup.rebuild(from: copy, into: staging, warehouse: config.warehouse, keepTokens: keepTokens)
            for suffix in suffixes { try DurableFile.remove(copy + suffix) }
            // Tokens are node-local. Read the replaced database only now that the backup checked out (opening it may
            // checkpoint its WAL; a refusal changes nothing).
            if keepTokens {
                // A revocation made after the backup must not be undone by it.
                do {
                    let revoked = try DatabaseBackup.revokedTokens(databaseAt: database)
                    revocationsKept = try DatabaseBackup.revoke(revoked, inDatabaseAt: staging)
                } catch {
                    warning = "could not carry over the token revocations of the replaced database (\(error)): tokens are as of the backup; revoke again any revoked since (inv token list)"
                }
                tokens = rebuilt.tokensInBackup
            } else {
                do {
                    let own = try DatabaseBackup.tokens(databaseAt: database)
                    try DatabaseBackup.add(own, inDatabaseAt: staging)
                    tokens = own.count
                } catch {
                    warning = "could not read the tokens of the replaced database (\(error)): the node has no token; restore with --keep-tokens to use the backup's"
                }
            }
            for suffix in ["-wal", "-shm", "-journal"] where FileManager.default.fileExists(atPath: staging + suffix) {
                throw BackupError.io("SQLite left \(staging + suffix) behind")
            }
            try DurableFile.sync(staging)
        } catch let error as BackupError {
            for path in [staging, copy] { for suffix in suffixes { try? DurableFile.remove(path + suffix) } }
            throw NodeError.other("cannot restore \(file): \(error)")
        }
        try DurableFile.remove(database + "-wal")
        try DurableFile.remove(database + "-shm")
        try DurableFile.remove(database + "-journal")
        try DurableFile.syncDirectory(of: database)
        try DurableFile.rename(staging, to: database)
        return Restored(
            file: file, directory: directory.path, summary: rebuilt.summary, keptBackupTokens: keepTokens,
            tokensInBackup: rebuilt.tokensInBackup, tokens: tokens, revocationsKept: revocationsKept,
            ignoredObjects: rebuilt.ignoredObjects, warning: warning)
    }
}
