import Foundation
import Store

/// `inv restore`: replaces a stopped node's database with a backup, and marks it as catching up.
///
/// Steps, each leaving the data directory usable if the process dies in between:
/// 1. take the directory's lock (``DirectoryLock``), so the node cannot be live, nor start, meanwhile;
/// 2. copy the file into the directory under a temporary name (owner-only), and check the copy there: an SQLite
///    database passing `integrity_check`, with the inv schema, no migration unknown to this inv, and the
///    directory's warehouse as its identity;
/// 3. apply newer migrations, set the catch-up flag and switch the copy to a rollback journal (one file); then, the
///    copy having checked out, revoke in it again the tokens revoked in the replaced database;
/// 4. remove the old database's `-wal` and `-shm` (a stale WAL beside a new database would be replayed into it),
///    then rename the copy over `inv.sqlite` and sync the directory.
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
        /// Tokens live in the backup but revoked in the replaced database, revoked again in the restored one.
        public var revocationsKept: Int
        /// Set when the replaced database's revocations could not be read (a damaged database): then tokens are as of
        /// the backup, and revoked ones work again until revoked anew.
        public var warning: String?
    }

    /// - Throws: `NodeError` with one line: a live node, a missing directory, or a file that is no valid backup of
    ///   this warehouse (`BackupError`'s reason).
    public static func restore(file: String, into directory: DataDirectory) throws -> Restored {
        let config = try directory.loadConfig()
        guard let lock = try DirectoryLock(directory) else {
            throw NodeError.other("the node \(config.warehouse) in \(directory.path) is running; stop it before restoring")
        }
        defer { lock.release() }
        guard FileManager.default.isReadableFile(atPath: file) else { throw NodeError.other("cannot read \(file)") }
        let staging = directory.databaseFile + ".restoring"
        let database = directory.databaseFile
        // Leftovers of a restore that died half-way are only ever the staging files.
        for suffix in ["", "-wal", "-shm", "-journal"] { try DurableFile.remove(staging + suffix) }
        let summary: BackupSummary
        var revocationsKept = 0
        var warning: String?
        do {
            try DurableFile.copy(file, to: staging)
            summary = try DatabaseBackup.prepareForRestore(path: staging, warehouse: config.warehouse)
            // Tokens are node-local: a revocation made after the backup must not be undone by it. Read only now that
            // the backup checked out (opening the replaced database may checkpoint its WAL; a refusal changes nothing).
            do {
                let revoked = try DatabaseBackup.revokedTokens(databaseAt: database)
                revocationsKept = try DatabaseBackup.revoke(revoked, inDatabaseAt: staging)
            } catch {
                warning = "could not carry over the token revocations of the replaced database (\(error)): tokens are as of the backup; revoke again any revoked since (inv token list)"
            }
            for suffix in ["-wal", "-shm", "-journal"] where FileManager.default.fileExists(atPath: staging + suffix) {
                throw BackupError.io("SQLite left \(staging + suffix) behind")
            }
            try DurableFile.sync(staging)
        } catch let error as BackupError {
            for suffix in ["", "-wal", "-shm", "-journal"] { try? DurableFile.remove(staging + suffix) }
            throw NodeError.other("cannot restore \(file): \(error)")
        }
        try DurableFile.remove(database + "-wal")
        try DurableFile.remove(database + "-shm")
        try DurableFile.remove(database + "-journal")
        try DurableFile.syncDirectory(of: database)
        try DurableFile.rename(staging, to: database)
        return Restored(file: file, directory: directory.path, summary: summary, revocationsKept: revocationsKept, warning: warning)
    }
}
