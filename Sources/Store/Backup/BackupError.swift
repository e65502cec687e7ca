/// Why a backup could not be written, or a file cannot be restored. Each message is one line a person can act on.
public enum BackupError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not an SQLite database, or one without the inv schema.
    case notAnInvDatabase(String)
    /// SQLite's integrity check found damage.
    case damaged(String)
    /// Written by a newer inv: it holds migrations this one does not know.
    case newerSchema(String)
    /// A database of another warehouse than the one it is restored into.
    case otherWarehouse(found: String, expected: String)
    /// A file-system or SQLite failure while copying.
    case io(String)

    public var description: String {
        switch self {
        case .notAnInvDatabase(let reason): "not an inv database (\(reason))"
        case .damaged(let reason): "the database is damaged: integrity check says \(reason)"
        case .newerSchema(let migrations): "written by a newer inv (unknown schema migrations: \(migrations)); upgrade inv first"
        case let .otherWarehouse(found, expected): "it is a database of warehouse \(found), not \(expected)"
        case .io(let message): message
        }
    }
}
