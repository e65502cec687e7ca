import GRDB

/// A row of `tokens`: an API bearer token of this node. The secret itself is never stored, only its hash.
///
/// Invariant: ``previousSecretHash`` and ``previousExpiresAt`` are both set or both `nil`; they are set only by a
/// rotation with a grace period, and the previous secret authenticates only before ``previousExpiresAt``.
public struct TokenRecord: Hashable, Codable, Sendable, FetchableRecord {
    public enum Role: String, Hashable, Codable, Sendable, CaseIterable {
        /// Everything, including tokens and product management.
        case admin
        /// Movements and reads.
        case staff
        /// Reads only.
        case reporter
    }

    public var id: String
    public var name: String
    public var role: Role
    /// Lowercase hex SHA-256 of the secret.
    public var secretHash: String
    /// Milliseconds since 1970.
    public var createdAt: Int64
    public var revokedAt: Int64?
    /// Lowercase hex SHA-256 of the secret replaced by the last rotation, while its grace period lasts.
    public var previousSecretHash: String?
    /// Milliseconds since 1970 at which ``previousSecretHash`` stops authenticating.
    public var previousExpiresAt: Int64?
    /// Milliseconds since 1970 of the last rotation.
    public var rotatedAt: Int64?

    public init(
        id: String, name: String, role: Role, secretHash: String, createdAt: Int64, revokedAt: Int64? = nil,
        previousSecretHash: String? = nil, previousExpiresAt: Int64? = nil, rotatedAt: Int64? = nil
    ) {
        self.id = id
        self.name = name
        self.role = role
        self.secretHash = secretHash
        self.createdAt = createdAt
        self.revokedAt = revokedAt
        self.previousSecretHash = previousSecretHash
        self.previousExpiresAt = previousExpiresAt
        self.rotatedAt = rotatedAt
    }

    public init(row: Row) throws {
        id = row[Columns.id]
        name = row[Columns.name]
        let raw: String = row[Columns.role]
        guard let role = Role(rawValue: raw) else { throw StoreError.storage("unknown token role \(raw)") }
        self.role = role
        secretHash = row[Columns.secretHash]
        createdAt = row[Columns.createdAt]
        revokedAt = row[Columns.revokedAt]
        previousSecretHash = row[Columns.previousSecretHash]
        previousExpiresAt = row[Columns.previousExpiresAt]
        rotatedAt = row[Columns.rotatedAt]
    }
}

extension TokenRecord: PersistableRecord {
    public static let databaseTableName = "tokens"

    public enum Columns {
        public static let id = Column("id")
        public static let name = Column("name")
        public static let role = Column("role")
        public static let secretHash = Column("secret_hash")
        public static let createdAt = Column("created_at")
        public static let revokedAt = Column("revoked_at")
        public static let previousSecretHash = Column("previous_secret_hash")
        public static let previousExpiresAt = Column("previous_expires_at")
        public static let rotatedAt = Column("rotated_at")
    }

    public func encode(to container: inout PersistenceContainer) {
        container[Columns.id] = id
        container[Columns.name] = name
        container[Columns.role] = role.rawValue
        container[Columns.secretHash] = secretHash
        container[Columns.createdAt] = createdAt
        container[Columns.revokedAt] = revokedAt
        container[Columns.previousSecretHash] = previousSecretHash
        container[Columns.previousExpiresAt] = previousExpiresAt
        container[Columns.rotatedAt] = rotatedAt
    }
}
