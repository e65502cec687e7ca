import CRDT
import GRDB

/// The schema, as an ordered list of migrations.
///
/// Migrations use table and column names as strings, never app types, and are never edited once shipped: a
/// change is a new migration appended here.
public enum StoreMigrator {
    public static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-ledger-products-stock") { db in
            // The node's identity and its hybrid logical clock, persisted so a restart never issues a timestamp
            // below one already used.
            try db.execute(sql: """
                CREATE TABLE node (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    replica TEXT NOT NULL CHECK (length(replica) BETWEEN 1 AND 32),
                    last_hlc INTEGER NOT NULL DEFAULT 0 CHECK (last_hlc >= 0)
                );
                """)
            // The replicated, append-only movement ledger: one row per operation, keyed by its dot.
            try db.execute(sql: """
                CREATE TABLE operations (
                    origin TEXT NOT NULL,
                    sequence INTEGER NOT NULL CHECK (sequence >= 1),
                    hlc INTEGER NOT NULL CHECK (hlc >= 0),
                    kind TEXT NOT NULL,
                    sku TEXT NOT NULL,
                    movement_id TEXT,
                    warehouse TEXT,
                    delta INTEGER NOT NULL DEFAULT 0,
                    counter_increments INTEGER CHECK (counter_increments >= 0),
                    counter_decrements INTEGER CHECK (counter_decrements >= 0),
                    transfer_id TEXT,
                    transfer_from TEXT,
                    transfer_to TEXT,
                    transfer_shipped INTEGER CHECK (transfer_shipped > 0),
                    transfer_accepted INTEGER CHECK (transfer_accepted >= 0),
                    product TEXT,
                    actor TEXT NOT NULL,
                    reason TEXT,
                    reference TEXT,
                    PRIMARY KEY (origin, sequence)
                ) WITHOUT ROWID;
                CREATE UNIQUE INDEX operations_movement_id ON operations(movement_id, origin)
                    WHERE movement_id IS NOT NULL;
                CREATE INDEX operations_hlc ON operations(hlc);
                CREATE INDEX operations_sku_hlc ON operations(sku, hlc);
                """)
            // Product metadata: one LWW register (value, hlc, replica) per field.
            try db.execute(sql: """
                CREATE TABLE products (
                    sku TEXT PRIMARY KEY NOT NULL,
                    name TEXT, name_hlc INTEGER, name_replica TEXT,
                    description TEXT, description_hlc INTEGER, description_replica TEXT,
                    price TEXT, price_hlc INTEGER, price_replica TEXT,
                    reorder_point INTEGER CHECK (reorder_point >= 0), reorder_point_hlc INTEGER, reorder_point_replica TEXT,
                    deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)), deleted_hlc INTEGER, deleted_replica TEXT
                ) WITHOUT ROWID;
                """)
            // Stock: PN-counter entries per (sku, warehouse, replica).
            try db.execute(sql: """
                CREATE TABLE stock_counters (
                    sku TEXT NOT NULL,
                    warehouse TEXT NOT NULL,
                    replica TEXT NOT NULL,
                    increments INTEGER NOT NULL CHECK (increments >= 0),
                    decrements INTEGER NOT NULL CHECK (decrements >= 0),
                    PRIMARY KEY (sku, warehouse, replica)
                ) WITHOUT ROWID;
                """)
            // Goods in transit: shipped by the source, accepted (cumulatively) by the destination.
            try db.execute(sql: """
                CREATE TABLE transfers (
                    id TEXT PRIMARY KEY NOT NULL,
                    sku TEXT NOT NULL,
                    from_warehouse TEXT NOT NULL,
                    to_warehouse TEXT NOT NULL,
                    shipped INTEGER NOT NULL DEFAULT 0 CHECK (shipped >= 0),
                    accepted INTEGER NOT NULL DEFAULT 0 CHECK (accepted >= 0),
                    shipped_hlc INTEGER
                ) WITHOUT ROWID;
                CREATE INDEX transfers_open ON transfers(to_warehouse) WHERE accepted < shipped;
                """)
            // The highest contiguous sequence held per origin.
            try db.execute(sql: """
                CREATE TABLE version_vector (
                    origin TEXT PRIMARY KEY NOT NULL,
                    sequence INTEGER NOT NULL CHECK (sequence >= 1)
                ) WITHOUT ROWID;
                """)
            // Active restock alerts (local, derived state: raised when stock falls to the reorder point).
            try db.execute(sql: """
                CREATE TABLE alerts (
                    sku TEXT NOT NULL,
                    warehouse TEXT NOT NULL,
                    quantity INTEGER NOT NULL,
                    reorder_point INTEGER NOT NULL,
                    raised_hlc INTEGER NOT NULL,
                    PRIMARY KEY (sku, warehouse)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v2-tokens-reorder-overrides") { db in
            // API tokens of this node (not replicated): only a SHA-256 hash of each secret is kept.
            try db.execute(sql: """
                CREATE TABLE tokens (
                    id TEXT PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL,
                    role TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'reporter')),
                    secret_hash TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    revoked_at INTEGER
                ) WITHOUT ROWID;
                """)
            // Per-warehouse reorder points: an LWW register per (sku, warehouse); NULL falls back to the product's.
            try db.execute(sql: """
                CREATE TABLE reorder_overrides (
                    sku TEXT NOT NULL,
                    warehouse TEXT NOT NULL,
                    reorder_point INTEGER CHECK (reorder_point >= 0),
                    hlc INTEGER NOT NULL,
                    replica TEXT NOT NULL,
                    PRIMARY KEY (sku, warehouse)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v3-members") { db in
            // Cluster membership: an LWW register per warehouse (its peer address and whether it is retired),
            // exchanged in full at every sync handshake.
            try db.execute(sql: """
                CREATE TABLE members (
                    warehouse TEXT PRIMARY KEY NOT NULL,
                    peer_url TEXT NOT NULL,
                    retired INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0, 1)),
                    hlc INTEGER NOT NULL,
                    replica TEXT NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v4-causal-context-conflicts") { db in
            // The causal context (origin's version vector) of product operations, to detect concurrent overwrites.
            try db.execute(sql: "ALTER TABLE operations ADD COLUMN context TEXT")
            // Conflicts found while merging: reported, never hidden. Derived from the ledger, so every node that
            // holds both sides records the same rows.
            try db.execute(sql: """
                CREATE TABLE conflicts (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    kind TEXT NOT NULL CHECK (kind IN ('concurrent_update', 'movement_on_deleted_product')),
                    sku TEXT NOT NULL,
                    field TEXT NOT NULL,
                    kept TEXT,
                    kept_origin TEXT NOT NULL,
                    kept_hlc INTEGER NOT NULL,
                    overwritten TEXT,
                    overwritten_origin TEXT NOT NULL,
                    overwritten_hlc INTEGER NOT NULL,
                    UNIQUE (kind, sku, field, kept_origin, kept_hlc, overwritten_origin, overwritten_hlc)
                );
                """)
        }
        migrator.registerMigration("v5-token-rotation") { db in
            // Rotating a token replaces its secret hash; with a grace period the previous hash keeps working until
            // `previous_expires_at` (milliseconds since 1970), so clients can switch without downtime.
            try db.execute(sql: """
                ALTER TABLE tokens ADD COLUMN previous_secret_hash TEXT;
                ALTER TABLE tokens ADD COLUMN previous_expires_at INTEGER;
                ALTER TABLE tokens ADD COLUMN rotated_at INTEGER;
                """)
        }
        migrator.registerMigration("v6-restore-catch-up") { db in
            // Set by `inv restore`: the restored ledger may lack operations of this very node that peers already
            // hold, so the node must not issue new ones (it would reuse their sequence numbers) until it has
            // caught up with its peers. Cleared by peer sync once that is proven (see `CatchUpGuard`).
            try db.execute(sql: """
                ALTER TABLE node ADD COLUMN catching_up INTEGER NOT NULL DEFAULT 0 CHECK (catching_up IN (0, 1))
                """)
        }
        migrator.registerMigration("v7-merge-lookup-indexes") { db in
            // Merges ask whether any product is deleted (movement-on-deleted-product conflicts) and whether any
            // reorder point is set (alerts) before looking per operation; these make both questions one seek.
            try db.execute(sql: """
                CREATE INDEX IF NOT EXISTS products_deleted ON products(sku) WHERE deleted = 1;
                CREATE INDEX IF NOT EXISTS products_reorder_point ON products(sku) WHERE reorder_point IS NOT NULL;
                """)
        }
        migrator.registerMigration("v8-deferred-sku-index") { db in
            // The per-SKU history index becomes a table the node maintains itself (`LedgerIndexes`), so that a
            // large merge can index its operations later, in big sorted batches: SQLite's own index on (sku, hlc)
            // was updated row by row, and a catch-up page spread over every SKU rewrote most of it at each commit.
            // `sku_index_backlog` lists the ledger ranges merged but not yet indexed; queries read both.
            try db.execute(sql: """
                CREATE TABLE sku_index (
                    sku TEXT NOT NULL,
                    hlc INTEGER NOT NULL,
                    origin TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    PRIMARY KEY (sku, hlc, origin, sequence)
                ) WITHOUT ROWID;
                INSERT INTO sku_index (sku, hlc, origin, sequence) SELECT sku, hlc, origin, sequence FROM operations;
                DROP INDEX operations_sku_hlc;
                CREATE TABLE sku_index_backlog (
                    origin TEXT NOT NULL,
                    first_sequence INTEGER NOT NULL CHECK (first_sequence >= 1),
                    last_sequence INTEGER NOT NULL,
                    PRIMARY KEY (origin, first_sequence),
                    CHECK (last_sequence >= first_sequence)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v9-deferred-time-and-movement-indexes") { db in
            // The ledger's timestamp and movement-id indexes become tables the node maintains itself, deferred by
            // merges like the SKU index (see `LedgerIndexes`): together SQLite's two indexes cost a catch-up about
            // a quarter of its CPU per merged operation. The backlog `sku_index_backlog` now stands for all three
            // indexes.
            try db.execute(sql: """
                CREATE TABLE hlc_index (
                    hlc INTEGER NOT NULL,
                    origin TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    PRIMARY KEY (hlc, origin, sequence)
                ) WITHOUT ROWID;
                INSERT INTO hlc_index (hlc, origin, sequence) SELECT hlc, origin, sequence FROM operations ORDER BY hlc;
                CREATE TABLE movement_index (
                    movement_id TEXT NOT NULL,
                    origin TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    PRIMARY KEY (movement_id, origin)
                ) WITHOUT ROWID;
                INSERT OR IGNORE INTO movement_index (movement_id, origin, sequence)
                SELECT movement_id, origin, sequence FROM operations WHERE movement_id IS NOT NULL ORDER BY movement_id;
                DROP INDEX operations_movement_id;
                DROP INDEX operations_hlc;
                """)
        }
        migrator.registerMigration("v10-ledger-row-bodies") { db in
            // Each operation becomes one row `(origin, sequence, body)` of `ledger`, its fields in one blob
            // (`LedgerRowBody`, version 1): inserting a twenty-column record was the largest cost of a catch-up.
            // `operations` stays as a view with the old columns, computed by `LedgerSQLFunctions`.
            try db.execute(sql: """
                CREATE TABLE ledger (
                    origin TEXT NOT NULL,
                    sequence INTEGER NOT NULL CHECK (sequence >= 1),
                    body BLOB NOT NULL,
                    PRIMARY KEY (origin, sequence)
                ) WITHOUT ROWID;
                """)
            try LegacyOperationRow.moveAll(from: "operations", into: "ledger", in: db)
            try db.execute(sql: """
                DROP TABLE operations;
                CREATE VIEW operations AS
                    SELECT origin, sequence, ledger_hlc(body) AS hlc, ledger_kind(body) AS kind,
                        ledger_sku(body) AS sku, ledger_movement_id(body) AS movement_id,
                        ledger_warehouse(body) AS warehouse, ledger_delta(body) AS delta,
                        ledger_counter_increments(body) AS counter_increments,
                        ledger_counter_decrements(body) AS counter_decrements,
                        ledger_transfer_id(body) AS transfer_id, ledger_transfer_from(body) AS transfer_from,
                        ledger_transfer_to(body) AS transfer_to, ledger_transfer_shipped(body) AS transfer_shipped,
                        ledger_transfer_accepted(body) AS transfer_accepted, ledger_product(body) AS product,
                        ledger_actor(body) AS actor, ledger_reason(body) AS reason,
                        ledger_reference(body) AS reference, ledger_context(body) AS context, body
                    FROM ledger;
                """)
        }
        migrator.registerMigration("v11-documents") { db in
            // Documents (delivery notes, sales, shipments, stocktakes) recorded here: their head and their lines,
            // each line naming the movement it recorded (none for a count line that needed no change). They are
            // this node's records; their movements replicate like any other.
            try db.execute(sql: """
                CREATE TABLE documents (
                    id TEXT PRIMARY KEY NOT NULL,
                    type TEXT NOT NULL CHECK (type IN ('receive', 'sell', 'transfer', 'count')),
                    warehouse TEXT NOT NULL CHECK (length(warehouse) BETWEEN 1 AND 32),
                    destination TEXT,
                    reason TEXT,
                    reference TEXT,
                    hlc INTEGER NOT NULL CHECK (hlc >= 0),
                    actor TEXT NOT NULL,
                    CHECK ((type = 'transfer') = (destination IS NOT NULL))
                ) WITHOUT ROWID;
                CREATE TABLE document_lines (
                    document_id TEXT NOT NULL,
                    line INTEGER NOT NULL CHECK (line >= 1),
                    sku TEXT NOT NULL,
                    quantity INTEGER NOT NULL CHECK (quantity >= 0),
                    movement_id TEXT,
                    adjustment INTEGER,
                    PRIMARY KEY (document_id, line)
                ) WITHOUT ROWID;
                CREATE INDEX document_lines_movement ON document_lines (movement_id) WHERE movement_id IS NOT NULL;
                """)
        }
        migrator.registerMigration("v11-products-sku-nocase") { db in
            // A product created here is refused when its SKU differs only by case from a live one: that check
            // compares SKUs without case, which scanned every product; an import of 5,000 products ran it 5,000
            // times. An index in the same collation turns each check into one seek.
            try db.execute(sql: "CREATE INDEX products_sku_nocase ON products (sku COLLATE NOCASE)")
        }
        migrator.registerMigration("v11-barcodes") { db in
            // A product's barcodes: one LWW register (the set, written whole) in `products`, and a look-up table by
            // code, kept by the writer with the register. A code on two products (given offline on two nodes) is
            // two rows: a conflict to report, not a constraint to break a merge.
            try db.execute(sql: """
                ALTER TABLE products ADD COLUMN barcodes TEXT;
                ALTER TABLE products ADD COLUMN barcodes_hlc INTEGER;
                ALTER TABLE products ADD COLUMN barcodes_replica TEXT;
                CREATE TABLE product_barcodes (
                    barcode TEXT NOT NULL CHECK (length(barcode) BETWEEN 8 AND 13),
                    sku TEXT NOT NULL,
                    PRIMARY KEY (barcode, sku)
                ) WITHOUT ROWID;
                CREATE INDEX product_barcodes_sku ON product_barcodes (sku);
                """)
        }
        migrator.registerMigration("v12-origin-chains") { db in
            // Every operation proves its origin (`OriginChain`, `SignedHead`, `ChainVerifier`): each origin's chain
            // hash where this node holds it, the heads signed by their origins (forwarded in pages), the cluster
            // CA's checkpoint and its marks, and every member certificate's key.
            try db.execute(sql: """
                CREATE TABLE chain_tips (
                    origin TEXT PRIMARY KEY NOT NULL,
                    sequence INTEGER NOT NULL CHECK (sequence >= 0),
                    hash BLOB NOT NULL CHECK (length(hash) = 32)
                ) WITHOUT ROWID;
                CREATE TABLE signed_heads (
                    origin TEXT NOT NULL,
                    sequence INTEGER NOT NULL CHECK (sequence >= 1),
                    hash BLOB NOT NULL CHECK (length(hash) = 32),
                    signature BLOB NOT NULL,
                    PRIMARY KEY (origin, sequence)
                ) WITHOUT ROWID;
                CREATE TABLE checkpoint_marks (
                    origin TEXT NOT NULL,
                    sequence INTEGER NOT NULL CHECK (sequence >= 1),
                    hash BLOB NOT NULL CHECK (length(hash) = 32),
                    PRIMARY KEY (origin, sequence)
                ) WITHOUT ROWID;
                CREATE TABLE chain_checkpoint (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    body BLOB NOT NULL
                );
                CREATE TABLE origin_keys (
                    warehouse TEXT NOT NULL,
                    public_key BLOB NOT NULL,
                    certificate BLOB NOT NULL,
                    PRIMARY KEY (warehouse, public_key)
                ) WITHOUT ROWID;
                """)
            // The chains of the ledger held so far, up to each origin's version-vector entry (hashes of the stored
            // row bodies, as receivers compute them).
            let vector = try Row.fetchAll(db, sql: "SELECT origin, sequence FROM version_vector WHERE sequence > 0")
            for row in vector {
                let origin = try ReplicaID(row[0] as String)
                try ChainRecords.advanceTip(of: origin, to: UInt64(row[1] as Int64), in: db)
            }
        }
        migrator.registerMigration("v13-alert-deciding-time") { db in
            // An alert's time becomes a function of the operations a node holds, so that it is the same on every
            // node whatever the order they arrived in: the greatest timestamp among the operations that decide it
            // (the stock operations of its counter, and the reorder point, override and deletion registers).
            // `newest_hlc` is the greatest timestamp among the operations merged into a counter entry. The
            // `operations` view reads through the ledger's SQL functions, which a bare connection (a backup being
            // migrated) lacks: register them first.
            try LedgerSQLFunctions.register(on: db)
            try db.execute(sql: """
                ALTER TABLE stock_counters ADD COLUMN newest_hlc INTEGER NOT NULL DEFAULT 0;
                WITH newest AS (
                    SELECT sku, warehouse, origin, max(hlc) AS hlc FROM operations
                    WHERE warehouse IS NOT NULL AND counter_increments IS NOT NULL
                    GROUP BY sku, warehouse, origin
                )
                UPDATE stock_counters SET newest_hlc = newest.hlc FROM newest
                WHERE newest.sku = stock_counters.sku AND newest.warehouse = stock_counters.warehouse
                    AND newest.origin = stock_counters.replica;
                UPDATE alerts SET raised_hlc = max(
                    coalesce((SELECT max(s.newest_hlc) FROM stock_counters s
                              WHERE s.sku = alerts.sku AND s.warehouse = alerts.warehouse), 0),
                    coalesce((SELECT max(coalesce(p.reorder_point_hlc, 0), coalesce(p.deleted_hlc, 0)) FROM products p
                              WHERE p.sku = alerts.sku), 0),
                    coalesce((SELECT o.hlc FROM reorder_overrides o
                              WHERE o.sku = alerts.sku AND o.warehouse = alerts.warehouse), 0));
                """)
        }
        migrator.registerMigration("v14-transfer-lines") { db in
            // A transfer holds lines keyed by (transfer id, SKU): a transfer document ships all its SKUs under one
            // id. The destination's returned quantity sits beside its accepted one; both are cumulative, set only
            // by the destination, and merged by max. `is_line` marks a transfer that may hold several lines (its
            // operations are encoded in version 2).
            try db.execute(sql: """
                CREATE TABLE transfer_lines (
                    id TEXT NOT NULL,
                    sku TEXT NOT NULL,
                    from_warehouse TEXT NOT NULL,
                    to_warehouse TEXT NOT NULL,
                    shipped INTEGER NOT NULL DEFAULT 0 CHECK (shipped >= 0),
                    accepted INTEGER NOT NULL DEFAULT 0 CHECK (accepted >= 0),
                    returned INTEGER NOT NULL DEFAULT 0 CHECK (returned >= 0),
                    shipped_hlc INTEGER,
                    is_line INTEGER NOT NULL DEFAULT 0 CHECK (is_line IN (0, 1)),
                    PRIMARY KEY (id, sku)
                ) WITHOUT ROWID;
                INSERT INTO transfer_lines (id, sku, from_warehouse, to_warehouse, shipped, accepted, shipped_hlc)
                    SELECT id, sku, from_warehouse, to_warehouse, shipped, accepted, shipped_hlc FROM transfers;
                DROP TABLE transfers;
                ALTER TABLE transfer_lines RENAME TO transfers;
                CREATE INDEX transfers_open ON transfers(to_warehouse) WHERE accepted + returned < shipped;
                """)
        }
        migrator.registerMigration("v15-membership-decisions") { db in
            // Retirements and re-admissions signed with the cluster CA key (`MembershipDecision`): the newest per
            // warehouse, kept as signed to forward in every hello.
            try db.execute(sql: """
                CREATE TABLE membership_decisions (
                    warehouse TEXT PRIMARY KEY NOT NULL,
                    retired INTEGER NOT NULL CHECK (retired IN (0, 1)),
                    hlc INTEGER NOT NULL,
                    actor TEXT NOT NULL,
                    issuer TEXT NOT NULL,
                    signature BLOB NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v16-membership-self-retirement") { db in
            // Who signed a decision: the cluster CA, or the decided warehouse's own key (its self-retirement). And
            // every decision ever taken, not only the newest per warehouse, so history shows each retirement and
            // re-admission with its actor and time.
            try db.execute(sql: """
                ALTER TABLE membership_decisions
                    ADD COLUMN signer INTEGER NOT NULL DEFAULT 0 CHECK (signer IN (0, 1));
                CREATE TABLE membership_decision_log (
                    warehouse TEXT NOT NULL,
                    hlc INTEGER NOT NULL,
                    issuer TEXT NOT NULL,
                    retired INTEGER NOT NULL CHECK (retired IN (0, 1)),
                    actor TEXT NOT NULL,
                    signer INTEGER NOT NULL CHECK (signer IN (0, 1)),
                    PRIMARY KEY (warehouse, hlc, issuer, retired)
                ) WITHOUT ROWID;
                CREATE INDEX membership_decision_log_time ON membership_decision_log(hlc);
                INSERT INTO membership_decision_log (warehouse, hlc, issuer, retired, actor, signer)
                    SELECT warehouse, hlc, issuer, retired, actor, 0 FROM membership_decisions;
                """)
        }
        return migrator
    }
}
