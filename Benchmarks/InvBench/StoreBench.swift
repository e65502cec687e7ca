import ArgumentParser
import CRDT
import Foundation
import GRDB
import Store

/// Movements through the ZMQ-fed writer versus the same rows in plain batched GRDB transactions.
struct StoreBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Write throughput of the ZMQ writer against raw batched GRDB inserts.")

    @Option(help: "Movements to write.") var movements = 200_000
    @Option(help: "Distinct SKUs.") var skus = 10_000
    @Option(help: "Concurrent submitters.") var submitters = 8
    @Option(help: "Writes each submitter keeps in flight.") var window = 128
    @Option(help: "Rows per transaction on the raw path.") var rawBatch = 1_000

    func run() async throws {
        let directory = try scratchDirectory("store")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        print("inv-bench store: \(movements) movements over \(skus) SKUs, \(submitters) submitters x \(window) in flight, synchronous=FULL, WAL")
        let replica = try ReplicaID("BENCH")
        let codes = try (0..<skus).map { try SKU(String(format: "SKU-%05d", $0)) }

        // 1. Through the queue.
        let store = try NodeStore(path: directory + "/queue.sqlite", replica: replica)
        for chunk in stride(from: 0, to: codes.count, by: 500) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for code in codes[chunk..<min(chunk + 500, codes.count)] {
                    group.addTask { _ = try await store.submit(.createProduct(ProductDraft(sku: code, name: "Item \(code)"), actor: "bench")) }
                }
                try await group.waitForAll()
            }
        }
        let perSubmitter = movements / submitters
        let startStats = store.writer.stats
        let start = now()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for submitter in 0..<submitters {
                group.addTask {
                    try await withThrowingTaskGroup(of: Void.self) { inflight in
                        for index in 0..<perSubmitter {
                            if index >= window { try await inflight.next() }
                            // Each submitter owns a disjoint share of the SKUs and cycles through it: even rounds
                            // receive 3, odd rounds sell 1, so a sale never races the receipt it depends on.
                            let share = codes.count / submitters
                            let code = codes[(index % share) * submitters + submitter]
                            let round = index / share
                            let type: MovementType = round % 2 == 1 ? .sell : .receive
                            inflight.addTask {
                                _ = try await store.submit(.movement(MovementRequest(
                                    type: type, sku: code, quantity: type == .sell ? 1 : 3, id: MovementID.generate(), actor: "bench")))
                            }
                        }
                        try await inflight.waitForAll()
                    }
                }
            }
            try await group.waitForAll()
        }
        let queueSeconds = now() - start
        let stats = store.writer.stats
        let written = perSubmitter * submitters
        let queueRate = Double(written) / queueSeconds
        let batches = stats.batches - startStats.batches
        store.close()

        // 2. The same rows, inserted with plain batched GRDB transactions into the same schema.
        let (rowCount, rawSeconds) = try Self.insertRaw(from: directory + "/queue.sqlite", into: directory + "/raw.sqlite", batch: rawBatch)
        let rawRate = Double(rowCount) / rawSeconds

        let ratio = queueRate / rawRate
        let rss = peakRSSMegabytes()
        figure("movements via ZMQ writer", Double(written), "ops")
        figure("queue elapsed", queueSeconds, "s")
        figure("commit batches", Double(batches), "batches")
        figure("mean batch size", Double(written) / Double(max(batches, 1)), "ops/commit")
        figure("largest batch", Double(stats.largestBatch), "ops")
        figure("store_queue_per_s", queueRate, "ops/s")
        figure("raw rows inserted", Double(rowCount), "rows")
        figure("raw_batch_per_s", rawRate, "ops/s", limit: "the store's own limit")
        figure("ratio", ratio, "", limit: ">= 0.5")
        figure("peak_rss_mb", rss, "MiB")
        print(String(format: "RESULT store_queue_per_s=%.0f raw_batch_per_s=%.0f ratio=%.2f peak_rss_mb=%.0f", queueRate, rawRate, ratio, rss))
    }

    /// Copies the movement rows of `source` into a fresh database of the same schema, `batch` rows per transaction,
    /// and returns the row count and the seconds the inserts took.
    static func insertRaw(from source: String, into target: String, batch: Int) throws -> (Int, Double) {
        let sourcePool = try NodeStore.openPool(path: source)
        let rows = try sourcePool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT origin, sequence, body, sku, warehouse, movement_id, counter_increments, counter_decrements
                FROM operations WHERE kind IN ('receive', 'sell') ORDER BY sequence
                """)
        }
        try sourcePool.close()
        let raw = try NodeStore.openPool(path: target)
        try StoreMigrator.migrator.migrate(raw)
        let start = now()
        for chunk in stride(from: 0, to: rows.count, by: batch) {
            try raw.writeWithoutTransaction { db in
                try db.inTransaction {
                    let insert = try db.cachedStatement(sql: "INSERT INTO ledger (origin, sequence, body) VALUES (?, ?, ?)")
                    let counter = try db.cachedStatement(sql: """
                        INSERT INTO stock_counters (sku, warehouse, replica, increments, decrements) VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (sku, warehouse, replica) DO UPDATE SET
                            increments = excluded.increments, decrements = excluded.decrements
                        """)
                    // The movement-id index is written at once and the others wait, as the writer does: one
                    // backlog range per transaction.
                    let movementIndex = try db.cachedStatement(sql: """
                        INSERT INTO movement_index (movement_id, origin, sequence) VALUES (?, ?, ?)
                        """)
                    let history = try db.cachedStatement(sql: """
                        INSERT INTO sku_index_backlog (origin, first_sequence, last_sequence) VALUES (?, ?, ?)
                        ON CONFLICT (origin, first_sequence) DO UPDATE SET last_sequence = max(last_sequence, excluded.last_sequence)
                        """)
                    let vector = try db.cachedStatement(sql: """
                        INSERT INTO version_vector (origin, sequence) VALUES (?, ?)
                        ON CONFLICT (origin) DO UPDATE SET sequence = max(sequence, excluded.sequence)
                        """)
                    let rowsOfChunk = rows[chunk..<min(chunk + batch, rows.count)]
                    if let first = rowsOfChunk.first, let last = rowsOfChunk.last {
                        try history.execute(arguments: [first["origin"], first["sequence"], last["sequence"]])
                    }
                    for row in rowsOfChunk {
                        try insert.execute(arguments: [row["origin"], row["sequence"], row["body"]])
                        try movementIndex.execute(arguments: [row["movement_id"], row["origin"], row["sequence"]])
                        try counter.execute(arguments: [
                            row["sku"], row["warehouse"], row["origin"], row["counter_increments"], row["counter_decrements"],
                        ])
                        try vector.execute(arguments: [row["origin"], row["sequence"]])
                    }
                    return .commit
                }
            }
        }
        let seconds = now() - start
        try raw.close()
        return (rows.count, seconds)
    }
}
