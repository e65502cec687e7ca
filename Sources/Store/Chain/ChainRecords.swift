import CRDT
// swift-crypto 3.12 does not yet mark its keys Sendable; they are immutable.
@preconcurrency import Crypto
import Foundation
import GRDB
import Synchronization

/// The tables of origin proofs (migration `v12-origin-chains`):
/// - `chain_tips (origin, sequence, hash)`: each origin's chain hash at the highest operation held contiguously;
/// - `signed_heads (origin, sequence, hash, signature)`: heads signed by their origin, to forward in pages;
/// - `checkpoint_marks (origin, sequence, hash)` and `chain_checkpoint (id = 1, body)`: the cluster CA's checkpoint;
/// - `origin_keys (warehouse, public_key, certificate)`: every member certificate ever seen, superseded ones too.
enum ChainRecords {
    // MARK: Tips

    /// Where `origin`'s chain stands as stored (genesis when nothing is stored).
    static func tip(of origin: ReplicaID, in db: Database) throws -> ChainTip {
        let statement = try db.cachedStatement(sql: "SELECT sequence, hash FROM chain_tips WHERE origin = ?")
        guard let row = try Row.fetchOne(statement, arguments: [origin.rawValue]) else { return .genesis(of: origin) }
        guard let hash = ChainHash(bytes: row[1] as Data) else { throw StoreError.storage("bad chain hash of \(origin)") }
        return ChainTip(sequence: UInt64(row[0] as Int64), hash: hash)
    }

    static func saveTip(_ tip: ChainTip, of origin: ReplicaID, in db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO chain_tips (origin, sequence, hash) VALUES (?, ?, ?)
            ON CONFLICT (origin) DO UPDATE SET sequence = excluded.sequence, hash = excluded.hash
            """).execute(arguments: [origin.rawValue, Int64(tip.sequence), Data(tip.hash.bytes)])
    }

    /// `origin`'s chain extended from `start` over the stored rows up to `sequence` (contiguous rows, as the
    /// version vector guarantees).
    static func tip(of origin: ReplicaID, from start: ChainTip, through sequence: UInt64, in db: Database) throws -> ChainTip {
        guard sequence > start.sequence else { return start }
        var tip = start
        let rows = try Row.fetchCursor(
            db.cachedStatement(sql: "SELECT sequence, body FROM ledger WHERE origin = ? AND sequence > ? AND sequence <= ? ORDER BY sequence"),
            arguments: [origin.rawValue, Int64(start.sequence), Int64(sequence)])
        while let row = try rows.next() {
            let next = UInt64(row[0] as Int64)
            guard next == tip.sequence + 1 else { throw StoreError.storage("ledger of \(origin) has a gap at \(tip.sequence + 1)") }
            tip.hash = try row.withUnsafeData(atIndex: 1) { data in
                guard let data else { throw StoreError.storage("ledger row \(origin):\(next) has no body") }
                return data.withUnsafeBytes { OriginChain.extend(tip.hash, sequence: next, body: $0) }
            }
            tip.sequence = next
        }
        guard tip.sequence == sequence else { throw StoreError.storage("ledger of \(origin) ends at \(tip.sequence), not \(sequence)") }
        return tip
    }

    /// Brings `origin`'s stored tip up to `sequence`, from `known` when it is there already, else from the rows.
    static func advanceTip(of origin: ReplicaID, to sequence: UInt64, known: ChainTip? = nil, in db: Database) throws {
        if let known, known.sequence == sequence {
            try saveTip(known, of: origin, in: db)
            return
        }
        let stored = try tip(of: origin, in: db)
        guard sequence > stored.sequence else { return }
        let start = known.map { $0.sequence > stored.sequence && $0.sequence < sequence ? $0 : stored } ?? stored
        try saveTip(try tip(of: origin, from: start, through: sequence, in: db), of: origin, in: db)
    }

    // MARK: Heads

    static func saveHead(_ head: SignedHead, in db: Database) throws {
        guard case .origin(let signature) = head.proof else { return }
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO signed_heads (origin, sequence, hash, signature) VALUES (?, ?, ?, ?)")
            .execute(arguments: [head.origin.rawValue, Int64(head.sequence), Data(head.hash.bytes), Data(signature)])
    }

    /// Keeps, of `origin`'s heads below `newest`, only those at multiples of ``SignedHead/signingInterval``: a head
    /// per commit is not needed once a newer one covers it. Called at each new head, so only the heads since the
    /// previous multiple's interval can be left to drop.
    static func pruneHeads(of origin: ReplicaID, below newest: UInt64, in db: Database) throws {
        let interval = SignedHead.signingInterval
        let floor = newest - newest % interval
        try db.cachedStatement(sql: "DELETE FROM signed_heads WHERE origin = ? AND sequence > ? AND sequence < ? AND sequence % ? != 0")
            .execute(arguments: [origin.rawValue, Int64(floor >= interval ? floor - interval : 0), Int64(newest), Int64(interval)])
    }

    /// The newest proof of `origin` (a signed head or a checkpoint mark) with sequence in `range`, or the oldest one
    /// when `oldest`.
    static func head(of origin: ReplicaID, in range: ClosedRange<UInt64>, oldest: Bool = false, in db: Database) throws -> SignedHead? {
        let order = oldest ? "ASC" : "DESC"
        let arguments: StatementArguments = [origin.rawValue, Int64(range.lowerBound), Int64(clamping: range.upperBound)]
        let signed = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT sequence, hash, signature FROM signed_heads WHERE origin = ? AND sequence BETWEEN ? AND ?
            ORDER BY sequence \(order) LIMIT 1
            """), arguments: arguments)
        let mark = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT sequence, hash FROM checkpoint_marks WHERE origin = ? AND sequence BETWEEN ? AND ?
            ORDER BY sequence \(order) LIMIT 1
            """), arguments: arguments)
        func head(_ row: Row, proof: SignedHead.Proof) throws -> SignedHead {
            guard let hash = ChainHash(bytes: row[1] as Data) else { throw StoreError.storage("bad head hash of \(origin)") }
            return SignedHead(origin: origin, sequence: UInt64(row[0] as Int64), hash: hash, proof: proof)
        }
        let candidates = try [signed.map { try head($0, proof: .origin(signature: Array($0[2] as Data))) }, mark.map { try head($0, proof: .checkpoint) }]
            .compactMap { $0 }
        return oldest ? candidates.min { $0.sequence < $1.sequence } : candidates.max { $0.sequence < $1.sequence }
    }

    // MARK: Checkpoint

    static func checkpoint(in db: Database) throws -> ChainCheckpoint? {
        guard let body = try Data.fetchOne(db, sql: "SELECT body FROM chain_checkpoint WHERE id = 1") else { return nil }
        return try ChainCheckpoint(decoding: Array(body))
    }

    /// Stores a checkpoint (already checked) and its marks, unless one is stored: the first one stays.
    static func saveCheckpoint(_ checkpoint: ChainCheckpoint, in db: Database) throws {
        guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM chain_checkpoint)") == false else { return }
        try db.execute(sql: "INSERT INTO chain_checkpoint (id, body) VALUES (1, ?)", arguments: [Data(checkpoint.encoded())])
        let insert = try db.makeStatement(sql: "INSERT OR IGNORE INTO checkpoint_marks (origin, sequence, hash) VALUES (?, ?, ?)")
        for (origin, marks) in checkpoint.marks {
            for mark in marks { try insert.execute(arguments: [origin.rawValue, Int64(mark.sequence), Data(mark.hash.bytes)]) }
        }
    }

    /// The marks a checkpoint of this ledger would hold: every origin's chain hash at each
    /// ``ChainCheckpoint/markInterval``-th operation and at its version-vector entry.
    static func checkpointMarks(in db: Database) throws -> [ReplicaID: [ChainCheckpoint.Mark]] {
        var marks: [ReplicaID: [ChainCheckpoint.Mark]] = [:]
        for (origin, held) in try VersionVectorRecord.load(db).entries where held > 0 {
            var walk = ChainTip.genesis(of: origin)
            var list: [ChainCheckpoint.Mark] = []
            var next = min(ChainCheckpoint.markInterval, held)
            while walk.sequence < held {
                walk = try tip(of: origin, from: walk, through: next, in: db)
                list.append(.init(sequence: walk.sequence, hash: walk.hash))
                next = min(next + ChainCheckpoint.markInterval, held)
            }
            marks[origin] = list
        }
        return marks
    }

    /// Whether some origin's held operations reach beyond every proof of them (signed head or checkpoint mark):
    /// a ledger written before operations were signed.
    static func hasUnprovenOperations(in db: Database) throws -> Bool {
        for (origin, held) in try VersionVectorRecord.load(db).entries where held > 0 {
            if try head(of: origin, in: held...LedgerOperation.maxSequence, in: db) == nil { return true }
        }
        return false
    }

    // MARK: Keys

    /// `warehouse`'s certified public keys, current and superseded.
    static func keys(of warehouse: ReplicaID, in db: Database) throws -> [P256.Signing.PublicKey] {
        try Data.fetchAll(db.cachedStatement(sql: "SELECT public_key FROM origin_keys WHERE warehouse = ?"), arguments: [warehouse.rawValue])
            .compactMap { parsedKeys.key(x963: $0) }
    }

    /// Keys already parsed, by their X9.63 bytes: every merged page checks a signature with its origins' keys, and
    /// parsing a point (a curve check) cost about as much as the rest of the lookup.
    private static let parsedKeys = ParsedKeys()

    static func saveKey(_ key: OriginCertificate, in db: Database) throws -> Bool {
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO origin_keys (warehouse, public_key, certificate) VALUES (?, ?, ?)")
            .execute(arguments: [key.warehouse.rawValue, Data(key.publicKey), Data(key.certificate)])
        return db.changesCount > 0
    }

    static func certificates(in db: Database) throws -> [OriginCertificate] {
        try Row.fetchAll(db, sql: "SELECT warehouse, public_key, certificate FROM origin_keys ORDER BY warehouse, public_key").compactMap { row -> OriginCertificate? in
            guard let warehouse = try? ReplicaID(row[0] as String) else { return nil }
            return OriginCertificate(warehouse: warehouse, publicKey: Array(row[1] as Data), certificate: Array(row[2] as Data))
        }
    }
}

/// A member's certificate as the store keeps it: the warehouse it names and its public key, checked against the
/// cluster CA by the caller (the store does not parse certificates), and the DER bytes to forward.
public struct OriginCertificate: Hashable, Codable, Sendable {
    public var warehouse: ReplicaID
    /// The P-256 public key, X9.63 form.
    public var publicKey: [UInt8]
    /// The certificate, DER.
    public var certificate: [UInt8]

    public init(warehouse: ReplicaID, publicKey: [UInt8], certificate: [UInt8]) {
        self.warehouse = warehouse
        self.publicKey = publicKey
        self.certificate = certificate
    }
}

/// A memo of parsed public keys (parsing is a pure function of the bytes); bounded, as keys are few (one per
/// member certificate ever seen).
final class ParsedKeys: Sendable {
    private let keys = Mutex<[Data: P256.Signing.PublicKey]>([:])
    private let capacity = 4_096

    /// The key `x963` encodes, or `nil` when it is not a P-256 point.
    func key(x963: Data) -> P256.Signing.PublicKey? {
        if let known = keys.withLock({ $0[x963] }) { return known }
        guard let parsed = try? P256.Signing.PublicKey(x963Representation: x963) else { return nil }
        keys.withLock { keys in
            if keys.count >= capacity { keys.removeAll(keepingCapacity: true) }
            keys[x963] = parsed
        }
        return parsed
    }
}
