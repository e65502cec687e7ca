import CRDT
import GRDB

/// A row of `members`: one warehouse of the cluster, as an LWW register stamped `(hlc, replica)`.
///
/// Membership is small (one row per warehouse), and each node keeps its own: an admin writes it
/// (`WriteCommand.setMember`), and a peer's announcement in a sync handshake adds only what
/// ``MemberAnnouncementPolicy`` allows (its own address, unknown members as hints). Among local writes the newer stamp
/// wins.
public struct MemberRecord: Hashable, Codable, Sendable, FetchableRecord {
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

    /// Writes `member` whatever the stored stamp (a policy decided, see ``MemberAnnouncementPolicy``).
    static func replace(_ member: MemberRecord, in db: Database) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO members (warehouse, peer_url, retired, hlc, replica) VALUES (?, ?, ?, ?, ?)
            """, arguments: [member.warehouse, member.peerURL, member.retired, Int64(clamping: member.timestamp.rawValue), member.replica])
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
            """, arguments: [incoming.warehouse, incoming.peerURL, incoming.retired, Int64(clamping: incoming.timestamp.rawValue), incoming.replica])
        return true
    }
}
