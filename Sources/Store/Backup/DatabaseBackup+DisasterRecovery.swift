import Foundation
import GRDB

/// Replacing a lost node: whether a warehouse already has a history in the cluster, and marking a new node of it as
/// catching up.
extension DatabaseBackup {
    /// Whether the database at `databasePath` (a live node's or not) knows `warehouse` already: as a member, in its
    /// version vector, or as the origin of an operation in its ledger.
    ///
    /// `inv cert issue W` asks it of the issuing node: a bundle for a warehouse that is already known is a
    /// replacement of a lost node (disaster recovery), and the new node must catch up before it writes.
    /// - Throws: `BackupError` when the database cannot be read.
    public static func knowsWarehouse(_ warehouse: String, databaseAt databasePath: String) throws(BackupError) -> Bool {
        guard FileManager.default.fileExists(atPath: databasePath) else { throw .io("no database at \(databasePath)") }
        return try run {
            let pool = try DatabasePool(path: databasePath, configuration: readOnlyConfiguration())
            defer { try? pool.close() }
            return try pool.read { db in
                try Bool.fetchOne(db, sql: """
                    SELECT EXISTS (SELECT 1 FROM members WHERE warehouse = ?1)
                        OR EXISTS (SELECT 1 FROM version_vector WHERE origin = ?1 AND sequence > 0)
                        OR EXISTS (SELECT 1 FROM operations WHERE origin = ?1)
                    """, arguments: [warehouse]) ?? false
            }
        }
    }

    /// Marks the database of a node that is not served yet (`inv init --join` of an existing warehouse) as catching
    /// up, as a restore does (see `StoreError.catchingUp`).
    ///
    /// Writes outside the single writer on purpose: the node is being created, and nothing serves its database yet.
    /// - Throws: `BackupError` when the database cannot be written.
    public static func markCatchingUp(databaseAt databasePath: String) throws(BackupError) {
        try run {
            let queue = try DatabaseQueue(path: databasePath, configuration: checkingConfiguration())
            defer { try? queue.close() }
            try queue.write { db in try NodeRecord.setCatchingUp(true, in: db) }
        }
    }
}
