import CRDT
import GRDB
import Foundation

/// A batch of operations to send a peer, as stored, cut so that the heads it carries cover every operation in it.
public struct ProvenBatch: Sendable {
    public var rows: StoredRows
    public var proofs: PageProofs
    /// More operations the peer lacks could follow (provable ones: operations no head covers are never sent).
    public var more: Bool
}

extension LedgerReader {
    /// The operations `vector` lacks that this node can prove, with the heads that prove them: per origin, from the
    /// vector's entry on, in sequence order and without a gap, cut at a head (a signed head or a checkpoint mark).
    ///
    /// About `limit` operations: each origin in turn fills what remains of it, its part cut back to the newest head
    /// within it; when no head lies within it, the part runs on to the first head beyond (heads are at most a page
    /// apart: an origin signs every ``SignedHead/signingInterval`` operations and the heads it forwards are its own
    /// pages' ends), so every batch makes progress. Operations that no head covers, and what follows a gap, stay
    /// here: a receiver could not apply them.
    ///
    /// - Parameter origins: only these origins' operations (a live stream sends only what its node originated);
    ///   `nil` for every origin.
    public func provenRowsMissing(from vector: VersionVector, limit: Int, origins: Set<ReplicaID>? = nil) throws -> ProvenBatch {
        try read { db in
            var batch = ProvenBatch(rows: StoredRows(), proofs: PageProofs(), more: false)
            var usesCheckpoint = false
            let statement = try db.cachedStatement(sql: """
                SELECT \(OperationRecord.selectColumns) FROM ledger
                WHERE origin = ? AND sequence > ? AND sequence <= ? ORDER BY sequence LIMIT ?
                """)
            // Only the origins asked for, when given (a live stream's one): not a walk over every origin held.
            let candidates = try origins.map { $0.map(\.rawValue).sorted() } ?? Self.origins(in: db)
            for raw in candidates {
                let origin: ReplicaID
                do { origin = try ReplicaID(raw) } catch { throw StoreError.storage("bad origin in ledger: \(raw)") }
                let from = vector[origin]
                guard from < LedgerOperation.maxSequence,
                      let newest = try ChainRecords.head(of: origin, in: (from + 1)...LedgerOperation.maxSequence, in: db)
                else { continue }
                let remaining = limit - batch.rows.count
                guard remaining > 0 else {
                    batch.more = true
                    break
                }
                // Bodies are copied as stored, never decoded: the receiver hashes and stores these very bytes.
                func fetch(through last: UInt64, limit: Int) throws -> StoredRows {
                    var part = StoredRows()
                    let rows = try Row.fetchCursor(statement, arguments: [raw, Int64(from), Int64(last), limit])
                    while let row = try rows.next() {
                        let sequence = UInt64(row[1] as Int64)
                        guard sequence == from + UInt64(part.count) + 1 else { break }  // a gap: what follows is unprovable
                        try row.withUnsafeData(atIndex: 2) { data in
                            guard let data else { throw StoreError.storage("ledger row \(raw):\(sequence) has no body") }
                            data.withUnsafeBytes { part.append(origin: origin, sequence: sequence, body: $0) }
                        }
                    }
                    return part
                }
                var part = try fetch(through: newest.sequence, limit: remaining)
                guard let last = part.keys.last?.sequence else { continue }
                var head: SignedHead
                if let within = try ChainRecords.head(of: origin, in: (from + 1)...last, in: db) {
                    head = within
                } else {
                    // No head within the part: run on to the first one beyond.
                    guard let beyond = try ChainRecords.head(of: origin, in: (last + 1)...newest.sequence, oldest: true, in: db) else { continue }
                    head = beyond
                    part = try fetch(through: beyond.sequence, limit: Int(clamping: beyond.sequence - from))
                }
                guard part.keys.last?.sequence ?? 0 >= head.sequence else {
                    // A gap before the head: nothing of this origin can be proven from here.
                    continue
                }
                part.keepFirst(Int(head.sequence - from))
                if head.sequence < newest.sequence { batch.more = true }
                if head.proof == .checkpoint { usesCheckpoint = true }
                batch.rows.append(contentsOf: part)
                batch.proofs.heads.append(head)
            }
            if usesCheckpoint { batch.proofs.checkpoint = try ChainRecords.checkpoint(in: db) }
            return batch
        }
    }

    /// Every member certificate this node knows (current and superseded), to forward with membership.
    public func originCertificates() throws -> [OriginCertificate] {
        try read { db in try ChainRecords.certificates(in: db) }
    }

    /// Where `origin`'s chain stands on this node.
    public func chainTip(of origin: ReplicaID) throws -> ChainTip {
        try read { db in try ChainRecords.tip(of: origin, in: db) }
    }

    /// The newest head of `origin` this node holds.
    public func newestHead(of origin: ReplicaID) throws -> SignedHead? {
        try read { db in try ChainRecords.head(of: origin, in: 1...LedgerOperation.maxSequence, in: db) }
    }

    /// The marks a checkpoint of this ledger would hold, when some held operations are covered by no head (a ledger
    /// written before operations were signed); `nil` when every operation is proven or a checkpoint is stored.
    public func checkpointMarksNeeded() throws -> [ReplicaID: [ChainCheckpoint.Mark]]? {
        try read { db in
            guard try ChainRecords.checkpoint(in: db) == nil, try ChainRecords.hasUnprovenOperations(in: db) else { return nil }
            return try ChainRecords.checkpointMarks(in: db)
        }
    }
}
