import GRDB
import GRDBSQLite

/// A cached statement run by binding values straight onto SQLite, for the ledger's rows (a ledger row and, in a
/// merge, a counter upsert per operation): building GRDB `StatementArguments`, an array of `DatabaseValue` per
/// row, cost about a tenth of a catching-up node's CPU.
///
/// Records on every write's path (the ledger, stock counters, products, the version vector, the node's clock) are
/// therefore namespaces of cached statements with positional reads, not GRDB record types: a `FetchableRecord` or
/// `PersistableRecord` builds a `Row` or a `PersistenceContainer` of `DatabaseValue`s per row. Records off that path
/// (members, tokens, conflicts, decisions) are GRDB records; alerts and transfer lines are read as GRDB records and
/// written by cached statements, as a merge writes them per counter and per line.
///
/// The statement comes from GRDB's cache, and its SQL is run only through this type. Every parameter is bound on
/// each run, so a run never sees an earlier run's values; a failed step throws the `DatabaseError` GRDB would (a
/// constraint violation included) and leaves the statement reset.
struct BoundStatement {
    /// Binds parameters in order, from 1.
    struct Binder {
        fileprivate let handle: SQLiteStatement
        fileprivate var index: Int32 = 0

        /// Values SQLite must copy: the Swift string may not outlive the call.
        private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

        mutating func text(_ value: String?) {
            index += 1
            guard var value else {
                sqlite3_bind_null(handle, index)
                return
            }
            value.withUTF8 { bytes in
                _ = sqlite3_bind_text(handle, index, bytes.baseAddress, Int32(bytes.count), Self.transient)
            }
        }

        mutating func blob(_ value: [UInt8]) {
            index += 1
            value.withUnsafeBytes { bytes in
                _ = sqlite3_bind_blob(handle, index, bytes.baseAddress, Int32(bytes.count), Self.transient)
            }
        }

        mutating func blob(_ value: ArraySlice<UInt8>) {
            index += 1
            value.withUnsafeBytes { bytes in
                _ = sqlite3_bind_blob(handle, index, bytes.baseAddress, Int32(bytes.count), Self.transient)
            }
        }

        /// Binds bytes SQLite reads in place (`SQLITE_STATIC`), without the copy (and the allocation under SQLite's
        /// memory mutex) ``text(_:)`` makes: `bytes` must stay valid until the statement's step has returned, so only
        /// a caller that runs ``BoundStatement/execute(_:)`` inside the scope that keeps them alive may use it.
        /// The statement is reset after the step; its next run binds every parameter again.
        mutating func borrowedText(_ bytes: UnsafeBufferPointer<UInt8>) {
            index += 1
            _ = sqlite3_bind_text(handle, index, bytes.baseAddress.map(UnsafeRawPointer.init), Int32(bytes.count), nil)
        }

        /// As ``borrowedText(_:)``, for a blob.
        mutating func borrowedBlob(_ bytes: UnsafeRawBufferPointer) {
            index += 1
            _ = sqlite3_bind_blob(handle, index, bytes.baseAddress, Int32(bytes.count), nil)
        }

        mutating func integer(_ value: Int64?) {
            index += 1
            if let value { sqlite3_bind_int64(handle, index, value) } else { sqlite3_bind_null(handle, index) }
        }
    }

    private let statement: Statement
    private let connection: SQLiteConnection?

    init(_ db: Database, sql: String) throws {
        statement = try db.cachedStatement(sql: sql)
        connection = db.sqliteConnection
    }

    /// Binds every parameter with `bind`, then steps the statement to completion.
    func execute(_ bind: (inout Binder) throws -> Void) throws {
        guard try step(bind) == SQLITE_DONE else { throw error(SQLITE_MISUSE) }
    }

    /// Binds every parameter with `bind` and tells whether the query yields a row (it is not stepped further).
    func hasRow(_ bind: (inout Binder) throws -> Void) throws -> Bool {
        try step(bind) == SQLITE_ROW
    }

    /// Steps once: `SQLITE_ROW` or `SQLITE_DONE`; any other code throws. The statement is left reset.
    private func step(_ bind: (inout Binder) throws -> Void) throws -> Int32 {
        let handle = statement.sqliteStatement
        var binder = Binder(handle: handle)
        try bind(&binder)
        precondition(binder.index == Int32(sqlite3_bind_parameter_count(handle)), "every parameter of \(statement.sql) is bound")
        let code = sqlite3_step(handle)
        defer { sqlite3_reset(handle) }
        guard code == SQLITE_DONE || code == SQLITE_ROW else { throw error(code) }
        return code
    }

    private func error(_ code: Int32) -> DatabaseError {
        let message = connection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        return DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
    }
}
