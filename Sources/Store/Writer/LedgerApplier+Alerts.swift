import CRDT
import GRDB

/// Alerts: a warehouse's stock at or below its reorder point, evaluated as operations are materialised.
extension LedgerApplier {
    /// Re-evaluates the alerts of `sku` after its reorder point (or deletion, or a warehouse's override) changed.
    ///
    /// The warehouses evaluated: `origin` (the warehouse of the node where the change was made, so that a product
    /// created with a reorder point and no stock there raises its alert at once) and every warehouse holding a
    /// stock row or an override of the SKU, never every member blindly. Local and merged operations both come here
    /// through `materialize`, so every node evaluates the same warehouses.
    func reevaluateAlerts(
        sku: SKU, product: ProductMetadata, origin: ReplicaID, in db: Database, events: inout CommittedEvents
    ) throws {
        let rows = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT w.warehouse,
                   coalesce((SELECT sum(s.increments) - sum(s.decrements) FROM stock_counters s
                             WHERE s.sku = :sku AND s.warehouse = w.warehouse), 0),
                   (SELECT o.reorder_point FROM reorder_overrides o WHERE o.sku = :sku AND o.warehouse = w.warehouse)
            FROM (SELECT warehouse FROM stock_counters WHERE sku = :sku
                  UNION SELECT warehouse FROM reorder_overrides WHERE sku = :sku
                  UNION SELECT :origin) w
            """), arguments: ["sku": sku.rawValue, "origin": origin.rawValue])
        let point = product.isDeleted ? nil : (product.reorderPoint?.value ?? nil)
        for row in rows {
            let effective = product.isDeleted ? nil : (row[2] as Int64?) ?? point
            try evaluateAlert(sku: sku, warehouse: row[0], quantity: row[1], reorderPoint: effective, in: db, events: &events)
        }
    }

    /// Raises an alert once when stock is at or below the reorder point; clears it when stock rises above.
    ///
    /// The alert's time is ``AlertRecord/decidingTimeSQL``, read after the operation is materialised, and kept up to
    /// date while the alert stands: a function of the operations held, the same on every node.
    func evaluateAlert(
        sku: SKU, warehouse: String, quantity: Int64, reorderPoint: Int64?, in db: Database, events: inout CommittedEvents
    ) throws {
        if let reorderPoint, quantity <= reorderPoint {
            let decidingTime = try Int64.fetchOne(
                db.cachedStatement(sql: AlertRecord.decidingTimeSQL), arguments: [sku.rawValue, warehouse]) ?? 0
            let standing = try db.cachedStatement(sql: "SELECT 1 FROM alerts WHERE sku = ? AND warehouse = ?")
            let isNew = try Int64.fetchOne(standing, arguments: [sku.rawValue, warehouse]) == nil
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO alerts (sku, warehouse, quantity, reorder_point, raised_hlc) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (sku, warehouse) DO UPDATE SET
                    quantity = excluded.quantity, reorder_point = excluded.reorder_point, raised_hlc = excluded.raised_hlc
                """)
            try upsert.execute(arguments: [sku.rawValue, warehouse, quantity, reorderPoint, decidingTime])
            if isNew {
                events.append(.alertRaised(AlertRecord(
                    sku: sku.rawValue, warehouse: warehouse, quantity: quantity, reorderPoint: reorderPoint,
                    raisedAt: HLCTimestamp(rawValue: UInt64(bitPattern: decidingTime)))))
            }
        } else {
            let delete = try db.cachedStatement(sql: "DELETE FROM alerts WHERE sku = ? AND warehouse = ?")
            try delete.execute(arguments: [sku.rawValue, warehouse])
            if db.changesCount > 0 { events.append(.alertCleared(sku: sku.rawValue, warehouse: warehouse)) }
        }
    }
}
