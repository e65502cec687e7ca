import CRDT

/// What a backup file holds: whose database it is, how many operations, up to which version vector.
public struct BackupSummary: Codable, Hashable, Sendable {
    /// The warehouse (replica) whose database this is.
    public var warehouse: String
    /// Ledger operations held (of every origin).
    public var operations: Int
    /// The highest contiguous sequence held per origin.
    public var versionVector: VersionVector
    /// The last schema migration applied.
    public var schema: String
    /// Whether the database is marked as catching up after a restore.
    public var catchingUp: Bool

    public init(warehouse: String, operations: Int, versionVector: VersionVector, schema: String, catchingUp: Bool) {
        self.warehouse = warehouse
        self.operations = operations
        self.versionVector = versionVector
        self.schema = schema
        self.catchingUp = catchingUp
    }

    enum CodingKeys: String, CodingKey {
        case warehouse, operations, schema
        case versionVector = "version_vector"
        case catchingUp = "catching_up"
    }
}
