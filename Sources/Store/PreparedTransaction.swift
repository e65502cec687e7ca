import GRDB

/// Transactions and savepoints through statements prepared once per connection: the writer's, and the readers'.
///
/// GRDB's `inTransaction`, `inSavepoint` and `DatabasePool.read` prepare their `BEGIN`, `COMMIT` and `SAVEPOINT`
/// texts anew each time. The writer commits one small transaction per live frame it merges, so that parse was about
/// a twentieth of a subscriber's CPU per frame; and the read behind each live page an origin sends spent more on its
/// `BEGIN` and `COMMIT` than on its queries (`perf record` of nodes in `inv-bench fanout`). These run the same
/// statements from the connection's statement cache.
///
/// Invariant: `body` runs inside the transaction or savepoint, which is committed (released) if `body` returns and
/// rolled back if `body` or the commit throws; the first error is rethrown.
enum PreparedTransaction {
    /// Runs `body` in a `BEGIN IMMEDIATE` transaction (the writer is the database's only writer, so taking the
    /// write lock at once never waits on a reader).
    static func immediate<T>(_ db: Database, _ body: () throws -> T) throws -> T {
        try transaction("BEGIN IMMEDIATE TRANSACTION", db, body)
    }

    /// Runs `body` in a `BEGIN DEFERRED` transaction on a reader's connection: every statement of `body` reads one
    /// snapshot of the database, taken at its first read. Nothing is written, so the commit only ends the snapshot.
    static func deferred<T>(_ db: Database, _ body: () throws -> T) throws -> T {
        try transaction("BEGIN DEFERRED TRANSACTION", db, body)
    }

    private static func transaction<T>(_ begin: String, _ db: Database, _ body: () throws -> T) throws -> T {
        try db.cachedStatement(sql: begin).execute()
        do {
            let result = try body()
            try db.cachedStatement(sql: "COMMIT TRANSACTION").execute()
            return result
        } catch {
            do {
                try db.cachedStatement(sql: "ROLLBACK TRANSACTION").execute()
            } catch let rollbackFailure {
                // SQLite may have rolled back already (a full disk, an I/O error): nothing is left open, and the first
                // error says why. A transaction still open is worse than that error: the connection, the writer's or
                // a reader's that the next read takes, could begin nothing more.
                if db.isInsideTransaction { throw rollbackFailure }
            }
            throw error
        }
    }

    /// Runs `body` in the savepoint `name`, inside the transaction in progress: rolled back to and released if
    /// `body` throws, so that what `body` did is undone and the transaction goes on.
    static func savepoint<T>(_ name: Savepoint, _ db: Database, _ body: () throws -> T) throws -> T {
        try db.cachedStatement(sql: "SAVEPOINT \(name.rawValue)").execute()
        do {
            let result = try body()
            try db.cachedStatement(sql: "RELEASE SAVEPOINT \(name.rawValue)").execute()
            return result
        } catch {
            try db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT \(name.rawValue)").execute()
            try db.cachedStatement(sql: "RELEASE SAVEPOINT \(name.rawValue)").execute()
            throw error
        }
    }

    /// The writer's savepoints: a fixed few, so each is prepared once.
    enum Savepoint: String {
        /// One command of a batch: a refused command leaves the batch's others committed.
        case command
        /// A merge's accepted operations, applied together: if that fails, they are applied one by one.
        case mergedBatch = "merged_batch"
        /// One operation applied alone after its batch failed.
        case mergedOperation = "merged_operation"
    }
}
