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
        warehouse = row[Columns.warehouse]
        peerURL = row[Columns.peerURL]
        retired = row[Columns.retired]
        timestamp = HLCTimestamp(rawValue: UInt64(row[Columns.hlc] as Int64))
        replica = row[Columns.replica]
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
        try member.insert(db)
    }

    /// Merges one register; returns whether the stored row changed.
    static func merge(_ incoming: MemberRecord, in db: Database) throws -> Bool {
        if let existing = try MemberRecord.filter(Columns.warehouse == incoming.warehouse).fetchOne(db),
           !(try incoming.isNewer(than: existing))
        {
            return false
        }
        try incoming.insert(db)
        return true
    }
}

extension MemberRecord: PersistableRecord {
    public static let databaseTableName = "members"
    /// A write replaces the warehouse's row: the caller decided it wins.
    public static let persistenceConflictPolicy = PersistenceConflictPolicy(insert: .replace)

    public enum Columns {
        public static let warehouse = Column("warehouse")
        public static let peerURL = Column("peer_url")
        public static let retired = Column("retired")
        public static let hlc = Column("hlc")
        public static let replica = Column("replica")
    }

    public func encode(to container: inout PersistenceContainer) {
        container[Columns.warehouse] = warehouse
        container[Columns.peerURL] = peerURL
        container[Columns.retired] = retired
        container[Columns.hlc] = Int64(clamping: timestamp.rawValue)
        container[Columns.replica] = replica
    }
}
