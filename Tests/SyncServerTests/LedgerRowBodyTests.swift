import CRDT
import Foundation
import GRDB
@testable import Store
import Testing

/// The stored form of a ledger operation (`ledger(origin, sequence, body)`, migration v10): random operations
/// round-trip field for field; the `operations` view shows every field as the twenty-column table did; a
/// migrated v9 ledger reads back unchanged; any damaged body is an error, never a crash.
@Suite("LedgerRowBody: one ledger row per operation, its fields in one blob")
struct LedgerRowBodyTests {
    @Test("random operations round-trip every field")
    func roundTrips() throws {
        let seed = SplitMix64.testSeed()
        var random = SplitMix64(seed: seed)
        for (index, op) in OperationGenerator.operations(count: 3_000, using: &random).enumerated() {
            let decoded = try LedgerRowBody.decode(origin: op.origin, sequence: op.sequence, body: try LedgerRowBody.encode(op))
            #expect(decoded == op, "seed \(seed), operation \(index)")
        }
    }

    @Test("every truncation, another version and a trailing byte are refused with an error")
    func damagedBodies() throws {
        let seed = SplitMix64.testSeed()
        var random = SplitMix64(seed: seed)
        let origin = try ReplicaID("MAD")
        for op in OperationGenerator.operations(count: 200, using: &random) {
            let body = try LedgerRowBody.encode(op)
            for length in 0..<body.count {
                #expect(throws: (any Error).self, "seed \(seed), cut at \(length)") {
                    try LedgerRowBody.decode(origin: origin, sequence: 1, body: Array(body.prefix(length)))
                }
            }
            #expect(throws: (any Error).self) { try LedgerRowBody.decode(origin: origin, sequence: 1, body: body + [0]) }
            #expect(throws: (any Error).self) {
                try LedgerRowBody.decode(origin: origin, sequence: 1, body: [LedgerRowBody.latestVersion + 1] + body.dropFirst())
            }
        }
    }

    @Test("the operations view shows every field as the column table stored it; a damaged body is an SQL error")
    func viewColumns() throws {
        let seed = SplitMix64.testSeed()
        var random = SplitMix64(seed: seed)
        let queue = try Self.migratedQueue(upTo: nil)
        let operations = Self.storable(OperationGenerator.operations(count: 1_000, using: &random))
        try queue.write { db in
            let insert = try BoundStatement(db, sql: OperationRecord.insertSQL)
            var buffer = ByteWriter(format: LedgerRowBody.version)
            for op in operations { try OperationRecord.insert(op, using: insert, buffer: &buffer) }
        }
        try queue.read { db in
            for op in operations {
                let row = try #require(try Row.fetchOne(
                    db, sql: "SELECT \(Self.legacyColumns) FROM operations WHERE origin = ? AND sequence = ?",
                    arguments: [op.origin.rawValue, Int64(op.sequence)]))
                let expected = try Self.legacyValues(op)
                let got = Array(row.databaseValues)
                for column in expected.indices {
                    if Self.jsonColumns.contains(column) {
                        #expect(try Self.json(got[column]) == Self.json(expected[column]), "seed \(seed), column \(column) of \(op)")
                    } else {
                        #expect(got[column] == expected[column], "seed \(seed), column \(column) of \(op)")
                    }
                }
            }
        }
        try queue.write { db in
            try db.execute(sql: "INSERT INTO ledger (origin, sequence, body) VALUES ('MAD', 999999, x'01')")
        }
        #expect(throws: DatabaseError.self) {
            try queue.read { db in try Row.fetchAll(db, sql: "SELECT sku FROM operations WHERE sequence = 999999") }
        }
    }

    @Test("migrating a v9 ledger of column rows keeps every operation, field for field")
    func migrationFromColumns() throws {
        let seed = SplitMix64.testSeed()
        var random = SplitMix64(seed: seed)
        let queue = try Self.migratedQueue(upTo: "v9-deferred-time-and-movement-indexes")
        // A v9 ledger holds only operations of the first encoding (no returns, no lines of multi-line transfers).
        let operations = Self.storable(OperationGenerator.operations(count: 1_000, using: &random).filter { $0.encodingVersion == 1 })
        try queue.write { db in
            for op in operations {
                try db.execute(
                    sql: "INSERT INTO operations (\(Self.legacyColumns)) VALUES (\(Array(repeating: "?", count: 20).joined(separator: ", ")))",
                    arguments: StatementArguments(try Self.legacyValues(op)))
            }
        }
        try StoreMigrator.migrator.migrate(queue)
        try queue.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT \(OperationRecord.selectColumns) FROM ledger ORDER BY origin, sequence")
            let stored = try rows.map(OperationRecord.operation(from:))
            #expect(stored == operations.sorted { ($0.origin.rawValue, $0.sequence) < ($1.origin.rawValue, $1.sequence) }, "seed \(seed)")
            #expect(try !db.tableExists("operations") && db.viewExists("operations"))
        }
    }

    // MARK: - Support

    static let legacyColumns = """
        origin, sequence, hlc, kind, sku, movement_id, warehouse, delta, counter_increments, counter_decrements, transfer_id, \
        transfer_from, transfer_to, transfer_shipped, transfer_accepted, product, actor, reason, reference, context
        """

    /// `product` and `context`: JSON texts, compared as JSON (an encoder may order keys either way).
    static let jsonColumns: Set<Int> = [15, 19]

    /// `nil` only for SQL NULL; text that is not JSON throws, so it can never compare equal by being unreadable.
    static func json(_ value: DatabaseValue) throws -> NSObject? {
        guard let text = String.fromDatabaseValue(value) else { return nil }
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) as? NSObject)
    }

    /// The twenty column values the v1–v9 `operations` table stored for `op`.
    static func legacyValues(_ op: LedgerOperation) throws -> [DatabaseValue] {
        let encoder = JSONEncoder()
        let values: [(any DatabaseValueConvertible)?] = [
            op.origin.rawValue, Int64(op.sequence), Int64(bitPattern: op.timestamp.rawValue), op.kind.rawValue, op.sku.rawValue,
            op.movementID, op.warehouse?.rawValue, op.delta, op.counter.map { Int64(clamping: $0.increments) },
            op.counter.map { Int64(clamping: $0.decrements) }, op.transfer?.id, op.transfer?.from.rawValue,
            op.transfer?.to.rawValue, op.transfer?.shipped, op.transfer?.accepted,
            try op.product.map { String(decoding: try encoder.encode($0), as: UTF8.self) }, op.actor, op.reason, op.reference,
            try op.context.map { String(decoding: try encoder.encode($0), as: UTF8.self) },
        ]
        return values.map { $0?.databaseValue ?? .null }
    }

    /// Operations as a ledger can hold them: dense sequences per origin, timestamps and counters SQLite can store.
    static func storable(_ operations: [LedgerOperation]) -> [LedgerOperation] {
        var sequences: [ReplicaID: UInt64] = [:]
        return operations.map { op in
            var op = op
            op.sequence = (sequences[op.origin] ?? 0) + 1
            sequences[op.origin] = op.sequence
            op.timestamp = HLCTimestamp(rawValue: op.timestamp.rawValue >> 1)
            op.counter = op.counter.map { PNCounter.Entry(increments: $0.increments >> 1, decrements: $0.decrements >> 1) }
            if op.transfer?.shipped == 0 { op.transfer?.shipped = 1 }
            return op
        }
    }

    /// An in-memory database migrated up to `migration` (all when `nil`), with the ledger functions.
    static func migratedQueue(upTo migration: String?) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.prepareDatabase { db in try LedgerSQLFunctions.register(on: db) }
        let queue = try DatabaseQueue(configuration: configuration)
        if let migration { try StoreMigrator.migrator.migrate(queue, upTo: migration) } else { try StoreMigrator.migrator.migrate(queue) }
        return queue
    }
}
