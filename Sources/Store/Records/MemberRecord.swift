import CRDT
import GRDB

/// A row of `members`: one warehouse of the cluster, as an LWW register stamped `(hlc, replica)`.
///
/// Membership is small (one row per warehouse), so nodes exchange it whole at every sync handshake and merge it
/// row by row: the newer stamp wins, which makes the exchange commutative, associative and idempotent.
public struct MemberRecord: Hashable, Codable, Sendable, FetchableRecord {
    enum Columns {
        static let warehouse = Column("warehouse")
    }

    public var warehouse: String
    /// Where peers reach this warehouse's sync listener (`https://host:port`).
    public var peerURL: String
    /// Retired warehouses are no longer contacted; their history stays.
    public var retired: Bool
    public var timestamp: HLCTimestamp
    public var replica: String

    public init(warehouse: String, peerURL: String, retired: Bool, timestamp: HLCTimestamp, replica: String) {
        self.warehouse = warehouse
        self.peerURL = peerURL
        self.retired = retired
        self.timestamp = timestamp
        self.replica = replica
    }

    public init(row: Row) throws {
        warehouse = row["warehouse"]
        peerURL = row["peer_url"]
        retired = row["retired"]
        timestamp = HLCTimestamp(rawValue: UInt64(row["hlc"] as Int64))
        replica = row["replica"]
    }

    enum CodingKeys: String, CodingKey {
        case warehouse, retired, timestamp, replica
        case peerURL = "peer_url"
    }

    /// Whether `self` wins over `other` for the same warehouse: the LWW order `(timestamp, replica)`, as
    /// `LWWRegister` defines it.
    func isNewer(than other: MemberRecord) throws -> Bool {
        try other.register().isOrdered(before: register())
    }

    private func register() throws -> LWWRegister<String> {
        do { return LWWRegister(value: warehouse, timestamp: timestamp, replica: try ReplicaID(replica)) } catch {
            throw StoreError.invalidOperation("bad replica id in membership: \(replica)")
        }
    }

    /// Merges one register; returns whether the stored row changed.
    static func merge(_ incoming: MemberRecord, in db: Database) throws -> Bool {
        if let existing = try MemberRecord.fetchOne(db, sql: "SELECT * FROM members WHERE warehouse = ?", arguments: [incoming.warehouse]),
           !(try incoming.isNewer(than: existing))
        {
            return false
        }
        try db.execute(sql: """
            INSERT OR REPLACE INTO members (warehouse, peer_url, retired, hlc, replica) VALUES (?, ?, ?, ?, ?)
            """, arguments: [incoming.warehouse, incoming.peerURL, incoming.retired, Int64(incoming.timestamp.rawValue), incoming.replica])
        return true
    }
}
