import CRDT
import GRDB

/// Administration: API tokens, cluster membership, and the origin certificates and checkpoints that prove
/// operations. None of these issues a ledger operation; members and decisions replicate by their own rules.

extension LedgerApplier {
    // MARK: - Tokens

    func createToken(_ token: TokenRecord, in db: Database) throws -> WriteOutcome {
        try TextLimits.validate(token.name, field: "token name", limit: TextLimits.actor, allowEmpty: false)
        // Names are unique among live tokens: the name is what logs, history (`user`) and `inv token list` show.
        let taken = try TokenRecord.filter(TokenRecord.Columns.name == token.name && TokenRecord.Columns.revokedAt == nil).fetchCount(db) > 0
        if taken { throw StoreError.tokenNameTaken(token.name) }
        var created = token
        created.revokedAt = nil
        try created.insert(db)
        return .token(token)
    }

    func revokeToken(_ id: String, at milliseconds: Int64, in db: Database) throws -> WriteOutcome {
        try db.execute(
            sql: "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?", arguments: [milliseconds, id])
        guard let token = try TokenRecord.fetchOne(db, sql: "SELECT * FROM tokens WHERE id = ?", arguments: [id]) else {
            throw StoreError.unknownToken(id)
        }
        return .token(token)
    }

    /// Replaces the secret hash of a live token; a grace period keeps the replaced hash (and only that one: an
    /// earlier rotation's grace ends here) until `previousValidUntil`.
    func rotateToken(
        _ id: String, secretHash: String, at milliseconds: Int64, previousValidUntil: Int64?, in db: Database
    ) throws -> WriteOutcome {
        guard secretHash.utf8.count == 64, secretHash.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw StoreError.invalidInput("a token secret hash is 64 lowercase hex digits")
        }
        guard let token = try TokenRecord.fetchOne(db, sql: "SELECT * FROM tokens WHERE id = ?", arguments: [id]) else {
            throw StoreError.unknownToken(id)
        }
        guard token.revokedAt == nil else { throw StoreError.tokenRevoked(id) }
        if let previousValidUntil, previousValidUntil <= milliseconds {
            throw StoreError.invalidInput("a grace period must end after the rotation")
        }
        try db.execute(sql: """
            UPDATE tokens SET secret_hash = ?, previous_secret_hash = ?, previous_expires_at = ?, rotated_at = ? WHERE id = ?
            """, arguments: [secretHash, previousValidUntil == nil ? nil : token.secretHash, previousValidUntil, milliseconds, id])
        guard let rotated = try TokenRecord.fetchOne(db, sql: "SELECT * FROM tokens WHERE id = ?", arguments: [id]) else {
            throw StoreError.storage("token vanished")
        }
        return .token(rotated)
    }

    // MARK: - Membership

    /// Applies each decision that ``MembershipDecision/isAcceptable(clusterKey:keys:)`` accepts (signed by the
    /// cluster CA, or a warehouse's own retirement signed by one of its certified keys) and that supersedes the one
    /// held about its warehouse: stored as signed (to forward), logged for history, and the member's record retired
    /// or re-admitted, stamped with the decision's time. A decision with a bad signature, or about a warehouse this
    /// node has no record of, changes no member.
    ///
    /// A self-retirement stamped further ahead than the clock tolerates is not taken yet (it comes again with every
    /// hello): a member's key must not be able to outrun, by a far-future time, every re-admission the CA can sign.
    func decideMembership(_ decisions: [MembershipDecision], in db: Database) throws -> [MemberRecord] {
        var changed: [MemberRecord] = []
        for decision in decisions where ReplicaID.isValid(decision.warehouse) {
            // A member key's decision beyond the clock offset is not taken yet (not refused): it comes again with
            // the next whole hello (membership digests differ while it is not held), and is taken once the clock
            // reaches it.
            if decision.signer != .clusterCA, (try? clock.check(decision.timestamp)) == nil { continue }
            let accepted = try decision.isAcceptable(clusterKey: clusterKey) {
                try ChainRecords.keys(of: try ReplicaID(decision.warehouse), in: db)
            }
            guard accepted else { continue }
            try MembershipDecisionLogRecord(decision).insert(db)
            if let held = try MembershipDecisionRecord.fetch(warehouse: decision.warehouse, in: db), !decision.supersedes(held) {
                continue
            }
            try MembershipDecisionRecord.save(decision, in: db)
            guard var member = try MemberRecord.fetchOne(
                db.cachedStatement(sql: "SELECT * FROM members WHERE warehouse = ?"), arguments: [decision.warehouse])
            else { continue }
            member.retired = decision.retired
            member.timestamp = max(member.timestamp, decision.timestamp)
            member.replica = decision.issuer
            try MemberRecord.replace(member, in: db)
            changed.append(member)
        }
        return changed
    }

    /// Sets a member by hand (`inv peer add`, `remove`, `readmit`), stamped now by this node.
    mutating func setMember(_ warehouse: String, peerURL: String, retired: Bool, in db: Database) throws -> WriteOutcome {
        guard ReplicaID.isValid(warehouse) else { throw StoreError.invalidInput("warehouse id must be 1-32 characters of A-Z a-z 0-9 _ -") }
        guard PeerURL.isValid(peerURL) else { throw StoreError.invalidInput(PeerURL.refusal(peerURL)) }
        let member = MemberRecord(
            warehouse: warehouse, peerURL: peerURL, retired: retired, timestamp: clock.now(), replica: replica.rawValue)
        return .members(changed: try MemberRecord.merge(member, in: db) ? [member] : [])
    }

    /// Takes the members a peer announced that ``MemberAnnouncementPolicy`` accepts.
    mutating func announcedMembers(
        _ members: [MemberRecord], by announcer: String?, in db: Database
    ) throws -> WriteOutcome {
        let known = try MemberRecord.fetchAll(db, sql: "SELECT * FROM members")
        var changed: [MemberRecord] = []
        for (warehouse, peerURL) in MemberAnnouncementPolicy.accepted(
            members, announcer: announcer, receiver: replica.rawValue, known: known)
        {
            // Stamped here: the policy, not the sender's stamp, decided that the record is taken.
            let member = MemberRecord(
                warehouse: warehouse, peerURL: peerURL, retired: false, timestamp: clock.now(), replica: replica.rawValue)
            try MemberRecord.replace(member, in: db)
            changed.append(member)
        }
        return .members(changed: changed)
    }

    /// When this node's warehouse was retired (milliseconds since 1970), if its membership says it is.
    ///
    /// A retired warehouse's operations are refused by every peer, so a local write here would be acknowledged and
    /// then never reach anyone: it is refused instead, until an admin re-admits the warehouse (`inv peer readmit`).
    static func retirement(of replica: ReplicaID, in db: Database) throws -> UInt64? {
        let statement = try db.cachedStatement(sql: "SELECT hlc FROM members WHERE warehouse = ? AND retired = 1")
        return try Int64.fetchOne(statement, arguments: [replica.rawValue]).map { HLCTimestamp(rawValue: UInt64($0)).physicalMilliseconds }
    }

    /// Refuses a local transfer to a warehouse that is not an active member of the cluster as this node knows it
    /// (and a local reorder override for one: it would set an alert nobody can ever see).
    ///
    /// A transfer cannot be cancelled and only its destination can accept it: goods shipped to a warehouse that does
    /// not exist, or no longer takes part, would stay in transit forever. Checked here, in the single writer, so the
    /// check and the write are one transaction (a `peer remove` cannot slip in between). A node whose membership holds
    /// nobody else (a single node) therefore refuses every transfer. Only local commands are checked: a transfer
    /// merged from a peer is kept whatever its destination, because that peer may have heard of a member this node
    /// has not heard of yet, and refusing it would make the ledgers diverge.
    /// - Throws: ``StoreError/unknownWarehouse(_:)``, ``StoreError/retiredWarehouse(_:)``.
    static func checkDestination(_ destination: ReplicaID, in db: Database) throws {
        let statement = try db.cachedStatement(sql: "SELECT retired FROM members WHERE warehouse = ?")
        guard let retired = try Bool.fetchOne(statement, arguments: [destination.rawValue]) else {
            throw StoreError.unknownWarehouse(destination.rawValue)
        }
        if retired { throw StoreError.retiredWarehouse(destination.rawValue) }
    }

    // MARK: - Proofs

    /// Stores the origin certificates not held yet; answers how many were new.
    func addOriginCertificates(_ certificates: [OriginCertificate], in db: Database) throws -> WriteOutcome {
        var added = 0
        for certificate in certificates where try ChainRecords.saveKey(certificate, in: db) { added += 1 }
        return .proofs(added: added)
    }

    /// Stores a checkpoint signed by the cluster CA; answers 1 if it is the first held.
    func saveCheckpoint(_ checkpoint: ChainCheckpoint, in db: Database) throws -> WriteOutcome {
        guard let clusterKey, checkpoint.isSigned(by: clusterKey) else {
            throw StoreError.invalidInput("the checkpoint is not signed by the cluster CA")
        }
        let before = try ChainRecords.checkpoint(in: db)
        try ChainRecords.saveCheckpoint(checkpoint, in: db)
        return .proofs(added: before == nil ? 1 : 0)
    }
}
