import CRDT
import Foundation
import GRDB

/// Finds concurrent changes while merging, so they are reported rather than silently resolved.
///
/// Two changes are concurrent when neither origin had seen the other's when it made its own: each product
/// operation carries its origin's version vector (its causal context), which answers that exactly.
enum ConflictDetector {
    /// Records a conflict for each field the incoming product operation changes concurrently with the held value.
    static func productFields(incoming op: LedgerOperation, delta: ProductMetadata, held: ProductMetadata, in db: Database) throws {
        func check<V: Hashable & Codable & Sendable>(_ field: String, _ mine: LWWRegister<V>?, _ theirs: LWWRegister<V>?) throws {
            guard let mine, let theirs, mine.value != theirs.value, mine.replica != theirs.replica else { return }
            guard try concurrent(held: mine.timestamp, heldOrigin: mine.replica, incoming: op, in: db) else { return }
            let (kept, lost) = mine.isOrdered(before: theirs) ? (theirs, mine) : (mine, theirs)
            try ConflictRecord(
                kind: .concurrentUpdate, sku: op.sku.rawValue, field: field, kept: describe(kept.value), keptOrigin: kept.replica.rawValue,
                keptAt: kept.timestamp, overwritten: describe(lost.value), overwrittenOrigin: lost.replica.rawValue,
                overwrittenAt: lost.timestamp
            ).save(in: db)
        }
        try check("name", held.name, delta.name)
        try check("description", held.description, delta.description)
        try check("price", held.price, delta.price)
        try check("reorder_point", held.reorderPoint, delta.reorderPoint)
        try check("deleted", held.deleted, delta.deleted)
        // A delete concurrent with movements made elsewhere: the movements stay, and are reported. A movement is
        // concurrent with the delete when the deleting node had not seen it (its dot is outside the delete's
        // causal context), whatever the timestamps say.
        if delta.deleted?.value == true, let context = op.context {
            let rows = try Row.fetchAll(db, sql: """
                SELECT \(OperationRecord.selectColumns(of: "o"))
                FROM (\(LedgerIndexes.dotsOfSKU)) d CROSS JOIN operations o ON o.origin = d.origin AND o.sequence = d.sequence
                WHERE o.counter_increments IS NOT NULL AND o.origin <> :origin
                """, arguments: ["sku": op.sku.rawValue, "origin": op.origin.rawValue])
            for row in rows {
                let movement = try OperationRecord.operation(from: row)
                if context.contains(movement.dot) { continue }
                try record(movement: movement, deletedBy: op.origin, at: op.timestamp, in: db)
            }
        }
    }

    /// Records a conflict when a merged movement targets a product deleted by a change it had not seen.
    static func movementOnDeletedProduct(_ movement: LedgerOperation, in db: Database) throws {
        let statement = try db.cachedStatement(sql: "SELECT deleted_hlc, deleted_replica FROM products WHERE sku = ? AND deleted = 1")
        guard let row = try Row.fetchOne(statement, arguments: [movement.sku.rawValue]),
              let hlc = row[0] as Int64?, let raw = row[1] as String?
        else { return }
        let deletedAt = HLCTimestamp(rawValue: UInt64(hlc))
        let deleter: ReplicaID
        do { deleter = try ReplicaID(raw) } catch { throw StoreError.storage("bad replica id in products: \(raw)") }
        guard movement.origin != deleter else { return }
        // Concurrent unless the delete's origin had seen this movement (then the movement came first, causally).
        let deleteContext = try Row.fetchOne(
            db.cachedStatement(sql: LedgerIndexes.operationAtSQL), arguments: [raw, hlc]).flatMap { $0[1] as String? }
        if let deleteContext, try JSONDecoder().decode(VersionVector.self, from: Data(deleteContext.utf8)).contains(movement.dot) { return }
        try record(movement: movement, deletedBy: deleter, at: deletedAt, in: db)
    }

    private static func record(movement: LedgerOperation, deletedBy origin: ReplicaID, at timestamp: HLCTimestamp, in db: Database) throws {
        try ConflictRecord(
            kind: .movementOnDeletedProduct, sku: movement.sku.rawValue, field: movement.movementID ?? "\(movement.origin):\(movement.sequence)",
            kept: "\(movement.kind.rawValue) \(movement.delta) at \(movement.warehouse?.rawValue ?? "?")", keptOrigin: movement.origin.rawValue,
            keptAt: movement.timestamp, overwritten: "deleted", overwrittenOrigin: origin.rawValue, overwrittenAt: timestamp
        ).save(in: db)
    }

    /// Whether the held register (written at `held` by `heldOrigin`) and the incoming operation were concurrent:
    /// the incoming origin had not seen the held write, and the held write's origin had not seen the incoming one.
    private static func concurrent(held: HLCTimestamp, heldOrigin: ReplicaID, incoming op: LedgerOperation, in db: Database) throws -> Bool {
        guard let context = op.context else { return false }
        guard let row = try Row.fetchOne(
            db.cachedStatement(sql: LedgerIndexes.operationAtSQL),
            arguments: [heldOrigin.rawValue, Int64(held.rawValue)])
        else { return false }
        let heldSequence = UInt64(row[0] as Int64)
        let heldContext = try (row[1] as String?).map { try JSONDecoder().decode(VersionVector.self, from: Data($0.utf8)) }
        let incomingSawHeld = context[heldOrigin] >= heldSequence
        let heldSawIncoming = (heldContext?[op.origin] ?? 0) >= op.sequence
        return !incomingSawHeld && !heldSawIncoming
    }

    static func describe(_ value: some Encodable) -> String {
        do { return String(decoding: try JSONEncoder().encode(value), as: UTF8.self) } catch { return "?" }
    }
}
