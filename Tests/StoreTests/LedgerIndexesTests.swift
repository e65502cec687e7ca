import CRDT
import Foundation
import GRDB
@testable import Store
import Testing

@Suite("The ledger indexes: merged operations indexed later, history and lookups complete throughout")
struct LedgerIndexesTests {
    /// A ledger at MAD: products P0–P4, then seeded random receipts, sales and adjustments over them.
    private func sourceLedger(in directory: TemporaryDirectory, seed: UInt64) async throws -> [LedgerOperation] {
        let mad = try openStore("MAD", in: directory)
        defer { mad.close() }
        var generator = SeededGenerator(seed: seed)
        for index in 0..<5 { try await mad.addProduct("P\(index)") }
        for _ in 0..<160 {
            let code = "P\(Int.random(in: 0..<5, using: &generator))"
            switch Int.random(in: 0..<3, using: &generator) {
            case 0: try await mad.move(.receive, code, Int64.random(in: 1...9, using: &generator))
            case 1: if try mad.onHand(code) > 0 { try await mad.move(.sell, code, 1) }
            default: try await mad.move(.adjust, code, Int64.random(in: 1...3, using: &generator), reason: "count")
            }
        }
        return try mad.reader.operations(origin: rid("MAD"), after: 0, limit: 10_000)
    }

    /// Every ledger entry, in history order, read from the ledger table alone (the oracle).
    private func everything(_ store: NodeStore) async throws -> [MovementRecord] {
        try await store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT \(OperationRecord.selectColumns) FROM operations ORDER BY hlc, origin, sequence")
                .map { MovementRecord(try OperationRecord.operation(from: $0)) }
        }
    }

    /// Checks history, with and without a SKU, alone and with other filters, in one page and in pages of 3, and
    /// each movement's lookup by id, against the oracle.
    private func expectHistoryMatches(_ store: NodeStore, _ comment: Comment) async throws {
        let all = try await everything(store)
        let middle = all[all.count / 2].timestamp.rawValue >> 16
        for code in ["P0", "P1", "P2", "P3", "P4", "NONE", nil] {
            let filters: [HistoryFilter] = [
                HistoryFilter(sku: code),
                HistoryFilter(sku: code, warehouse: "BIO"),
                HistoryFilter(sku: code, kinds: [.receive, .adjust]),
                HistoryFilter(sku: code, sinceMilliseconds: middle),
                HistoryFilter(sku: code, untilMilliseconds: middle),
            ]
            for filter in filters {
                let expected = all.filter { record in
                    (code.map { record.sku == $0 } ?? true) && (filter.warehouse.map { record.warehouse == $0 } ?? true)
                        && (filter.kinds.map { $0.contains(record.type) } ?? true)
                        && (filter.sinceMilliseconds.map { record.timestamp.rawValue >= $0 << 16 } ?? true)
                        && (filter.untilMilliseconds.map { record.timestamp.rawValue < $0 << 16 } ?? true)
                }
                #expect(try store.reader.history(filter) == expected, "\(comment) \(filter)")
                var paged: [MovementRecord] = []
                var cursor: HistoryCursor?
                for _ in 0...expected.count {
                    let page = try store.reader.history(filter, after: cursor, limit: 3)
                    paged += page
                    guard let last = page.last, page.count == 3 else { break }
                    cursor = HistoryCursor(hlc: last.timestamp.rawValue, origin: last.origin, sequence: last.sequence)
                }
                #expect(paged == expected, "\(comment) \(filter), pages of 3")
            }
        }
        // Movements have a UUID for id; product operations `origin:sequence`, which is not looked up.
        for record in all where !record.id.contains(":") {
            #expect(try store.reader.movement(id: record.id) == record, "\(comment) movement \(record.id)")
        }
        #expect(try store.reader.movement(id: "00000000-0000-4000-8000-000000000000") == nil)
    }

    @Test("history, by SKU or not, and movements by id are the same with merged operations in the backlog, partly indexed, and fully indexed")
    func historyThroughEveryIndexState() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let source = try await sourceLedger(in: directory, seed: 0xB10)
        var generator = SeededGenerator(seed: 0x1DE)

        var options = NodeStore.Options()
        options.writer.historyIndexBatch = 0
        let path = directory.file("BIO.sqlite")
        let bio = try NodeStore(path: path, replica: rid("BIO"), options: options)
        // Merged in shuffled chunks, some twice: overlapping and repeated backlog ranges.
        var shuffled = source.shuffled(using: &generator)
        shuffled += shuffled.prefix(20)
        var index = 0
        while index < shuffled.count {
            let chunk = Array(shuffled[index..<min(index + Int.random(in: 1...40, using: &generator), shuffled.count)])
            _ = try await bio.submit(.merge(chunk))
            index += chunk.count
        }
        // Local movements at BIO are indexed as they are written.
        for code in ["P1", "P3", "P3"] { try await bio.move(.receive, code, 2) }
        #expect(try bio.reader.historyIndexBacklog() >= source.count - 5)
        let productOperations = source.filter { !$0.kind.isMovement }.count
        let timeIndexed = try await bio.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM hlc_index") ?? 0 }
        #expect(timeIndexed == productOperations, "product operations are in the timestamp index at once, movements wait")
        try await expectHistoryMatches(bio, "all merged operations in the backlog")
        bio.close()

        // Reopened with tiny indexing batches: check while ranges are split and indexed a few at a time.
        options.writer.historyIndexBatch = 7
        let partly = try NodeStore(path: path, replica: rid("BIO"), options: options)
        var checks = 0
        for _ in 0..<2_000 {
            try await expectHistoryMatches(partly, "partly indexed")
            checks += 1
            if try partly.reader.historyIndexBacklog() == 0 { break }
        }
        #expect(try partly.reader.historyIndexBacklog() == 0, "the idle writer indexed the whole backlog (\(checks) checks)")
        try await expectHistoryMatches(partly, "fully indexed")
        let held = try partly.reader.operationCount()
        for query in [
            "SELECT count(*) FROM sku_index", "SELECT count(*) FROM hlc_index",
            "SELECT count(*) + (SELECT count(*) FROM operations WHERE movement_id IS NULL) FROM movement_index",
        ] {
            let indexed = try await partly.pool.read { db in try Int.fetchOne(db, sql: query) ?? 0 }
            #expect(indexed == held, "one index row per ledger operation (movement): \(query)")
        }
        partly.close()
    }

    enum Arrival: CaseIterable {
        /// The movement merged and indexed before the delete arrives.
        case indexedFirst
        /// The movement merged (in the backlog) before the delete arrives.
        case mergedFirst
        /// Both in one merge, the movement first.
        case sameBatch
    }

    /// MAD creates product A and receives 5; SEV, having merged the creation (and the receipt if
    /// `seeingTheReceipt`), deletes A. Returns each origin's operations in sequence order.
    private func productDeletedAtSEV(
        seeingTheReceipt: Bool, in directory: TemporaryDirectory
    ) async throws -> (mad: [LedgerOperation], sev: [LedgerOperation]) {
        let mad = try openStore("MAD", in: directory)
        let sev = try openStore("SEV", in: directory)
        defer {
            mad.close()
            sev.close()
        }
        try await mad.addProduct("A")
        try await mad.move(.receive, "A", 5)
        let madOps = try mad.reader.operations(origin: rid("MAD"), after: 0, limit: 10)
        _ = try await sev.submit(.merge(seeingTheReceipt ? madOps : [madOps[0]]))
        _ = try await sev.submit(.deleteProduct(sku: sku("A"), actor: "t"))
        return (madOps, try sev.reader.operations(origin: rid("SEV"), after: 0, limit: 10))
    }

    /// BIO, whose idle writer indexes the backlog if `indexing`, or leaves it alone.
    private func openBIO(in directory: TemporaryDirectory, indexing: Bool) throws -> NodeStore {
        var options = NodeStore.Options()
        options.writer.historyIndexBatch = indexing ? 50_000 : 0
        return try NodeStore(path: directory.file("BIO.sqlite"), replica: rid("BIO"), options: options)
    }

    @Test("a merged delete finds movements made without seeing it: indexed, in the backlog, or in its own batch",
          arguments: Arrival.allCases)
    func deleteConflictsSeeTheBacklog(arrival: Arrival) async throws {
        do {
            let indexFirst = arrival == .indexedFirst
            let directory = try TemporaryDirectory()
            defer { directory.cleanup() }
            let (madOps, sevOps) = try await productDeletedAtSEV(seeingTheReceipt: false, in: directory)

            let bio = try openBIO(in: directory, indexing: indexFirst)
            defer { bio.close() }
            switch arrival {
            case .indexedFirst:
                _ = try await bio.submit(.merge(madOps))
                for _ in 0..<200 where try bio.reader.historyIndexBacklog() > 0 { try await Task.sleep(for: .milliseconds(10)) }
                #expect(try bio.reader.historyIndexBacklog() == 0)
                _ = try await bio.submit(.merge(sevOps))
            case .mergedFirst:
                _ = try await bio.submit(.merge(madOps))
                #expect(try bio.reader.historyIndexBacklog() > 0)
                _ = try await bio.submit(.merge(sevOps))
            case .sameBatch:
                _ = try await bio.submit(.merge(madOps + sevOps))
            }
            let conflicts = try bio.reader.conflicts().filter { $0.kind == .movementOnDeletedProduct }
            #expect(conflicts.count == 1, "\(arrival)")
            #expect(conflicts.first?.sku == "A")
        }
    }

    @Test("a movement arriving after a delete that had seen it is no conflict, merged movements indexed or not",
          arguments: [true, false])
    func deleteContextFoundInTheBacklog(indexFirst: Bool) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let (madOps, sevOps) = try await productDeletedAtSEV(seeingTheReceipt: true, in: directory)

        let bio = try openBIO(in: directory, indexing: indexFirst)
        defer { bio.close() }
        _ = try await bio.submit(.merge([madOps[0]] + sevOps))
        for _ in 0..<200 where try indexFirst && bio.reader.historyIndexBacklog() > 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(try bio.reader.historyIndexBacklog() == 0 || !indexFirst)
        _ = try await bio.submit(.merge(Array(madOps.dropFirst())))
        #expect(try bio.reader.conflicts().filter { $0.kind == .movementOnDeletedProduct }.isEmpty)
        #expect(try bio.reader.history(HistoryFilter(sku: "A")).count == 3)
    }

    @Test("migrating a v7 ledger builds the indexes from it and drops SQLite's own")
    func migrationBuildsTheIndex() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let queue = try DatabaseQueue(path: directory.file("old.sqlite"))
        try StoreMigrator.migrator.migrate(queue, upTo: "v7-merge-lookup-indexes")
        try queue.write { db in
            for (origin, sequence, sku) in [("MAD", 1, "A"), ("MAD", 2, "B"), ("SEV", 1, "A")] {
                try db.execute(
                    sql: "INSERT INTO operations (origin, sequence, hlc, kind, sku, movement_id, actor) VALUES (?, ?, ?, 'receive', ?, ?, 't')",
                    arguments: [origin, sequence, sequence * 10, sku, "m-\(origin)-\(sequence)"])
            }
        }
        try StoreMigrator.migrator.migrate(queue)
        try queue.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT sku, hlc, origin, sequence FROM sku_index ORDER BY sku, hlc, origin")
            #expect(rows.map { "\($0[0] as String) \($0[1] as Int) \($0[2] as String) \($0[3] as Int)" } == [
                "A 10 MAD 1", "A 10 SEV 1", "B 20 MAD 2",
            ])
            let byTime = try Row.fetchAll(db, sql: "SELECT hlc, origin, sequence FROM hlc_index ORDER BY hlc, origin")
            #expect(byTime.map { "\($0[0] as Int) \($0[1] as String) \($0[2] as Int)" } == ["10 MAD 1", "10 SEV 1", "20 MAD 2"])
            let byID = try Row.fetchAll(db, sql: "SELECT movement_id, origin, sequence FROM movement_index ORDER BY movement_id")
            #expect(byID.map { "\($0[0] as String) \($0[1] as String) \($0[2] as Int)" } == [
                "m-MAD-1 MAD 1", "m-MAD-2 MAD 2", "m-SEV-1 SEV 1",
            ])
            for name in ["operations_sku_hlc", "operations_hlc", "operations_movement_id"] {
                #expect(try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = ?)", arguments: [name]) == false)
            }
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM sku_index_backlog") == 0)
        }
    }
}

@Suite("The history backlog of a writer that is never idle")
struct HistoryBacklogLimitTests {
    @Test("past its limit the backlog is indexed after each commit, so a busy node's backlog stays bounded")
    func busyWriterKeepsTheBacklogBounded() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        var options = NodeStore.Options()
        options.writer.historyBacklogLimit = 10
        options.writer.historyIndexBatch = 5
        let store = try NodeStore(path: directory.file("MAD.sqlite"), replica: rid("MAD"), options: options)
        defer { store.close() }
        try await store.addProduct("A")
        // Eight writers keep a request waiting at all times, so the writer is never idle.
        let observed = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var highest = 0
                    for _ in 0..<100 {
                        try await store.move(.receive, "A", 1)
                        highest = max(highest, try store.reader.historyIndexBacklog())
                    }
                    return highest
                }
            }
            return try await group.reduce(0) { max($0, $1) }
        }
        // At most the limit plus what one commit adds (one write per writer) before its batch is indexed.
        #expect(observed <= 10 + 8 + 5, "highest backlog seen: \(observed)")
        #expect(try store.reader.history(HistoryFilter(sku: "A"), limit: 10_000).count == 801)
    }
}
