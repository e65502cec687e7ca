import GRDB

/// A row of `tokens`: an API bearer token of this node. The secret itself is never stored, only its hash.
public struct TokenRecord: Hashable, Codable, Sendable, FetchableRecord {
    public enum Role: String, Hashable, Codable, Sendable, CaseIterable {
        /// Everything, including tokens and product management.
        case admin
        /// Movements and reads.
        case staff
        /// Reads only.
        case reporter
    }

    enum Columns {
        static let id = Column("id")
        static let revokedAt = Column("revoked_at")
    }

    public var id: String
    public var name: String
    public var role: Role
    /// Lowercase hex SHA-256 of the secret.
    public var secretHash: String
    /// Milliseconds since 1970.
    public var createdAt: Int64
    public var revokedAt: Int64?

    public init(id: String, name: String, role: Role, secretHash: String, createdAt: Int64, revokedAt: Int64? = nil) {
        self.id = id
        self.name = name
        self.role = role
        self.secretHash = secretHash
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    public init(row: Row) throws {
        id = row["id"]
        name = row["name"]
        let raw: String = row["role"]
        guard let role = Role(rawValue: raw) else { throw StoreError.storage("unknown token role \(raw)") }
        self.role = role
        secretHash = row["secret_hash"]
        createdAt = row["created_at"]
        revokedAt = row["revoked_at"]
    }
}
