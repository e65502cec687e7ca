import CRDT
import Foundation
import GRDB
import Store
import Testing

@Suite("Crash safety: kill -9 mid-burst loses no acknowledged write")
struct CrashSafetyTests {
    /// The CrashWriter executable, built beside this test bundle.
    static func crashWriterPath() throws -> String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("CrashWriter").path,
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("CrashWriter").path,
            FileManager.default.currentDirectoryPath + "/.build/debug/CrashWriter",
        ]
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw StoreError.unavailable("CrashWriter not built; looked in \(candidates)")
        }
        return path
    }

    @Test(arguments: [40, 400, 1_500])
    func killedWriterKeepsEveryAcknowledgedWrite(killAfterAcks: Int) throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let database = directory.file("node.sqlite")
        var acknowledged: [String: Int64] = [:]
        // Two lives: killed, restarted on the same database, killed again.
        for _ in 0..<2 {
            let acks = try runAndKill(database: database, ipc: "ipc://" + directory.file("w.ipc"), afterAcks: killAfterAcks)
            #expect(acks.count >= killAfterAcks)
            acknowledged.merge(acks) { first, _ in first }
        }
        let pool = try NodeStore.openPool(path: database)
        let allAcknowledged = acknowledged
        try pool.read { db in
            #expect(try String.fetchOne(db, sql: "PRAGMA integrity_check") == "ok")
            let stored = try Dictionary(uniqueKeysWithValues: Row.fetchAll(
                db, sql: "SELECT movement_id, delta FROM operations WHERE movement_id IS NOT NULL"
            ).map { (($0[0] as String), ($0[1] as Int64)) })
            let missing = allAcknowledged.filter { stored[$0.key] != $0.value }
            #expect(missing.isEmpty, "acknowledged but missing: \(missing.count)")
            // Nothing half-applied: the stock counter equals the sum of the ledger's receipts...
            let ledgerTotal = try Int64.fetchOne(db, sql: "SELECT sum(delta) FROM operations WHERE sku = 'CRASH-1'") ?? 0
            let counter = try Int64.fetchOne(db, sql: "SELECT increments - decrements FROM stock_counters WHERE sku = 'CRASH-1'") ?? 0
            #expect(counter == ledgerTotal)
            // ...and sequences are dense, with the version vector at the top.
            let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM operations") ?? 0
            let top = try Int.fetchOne(db, sql: "SELECT max(sequence) FROM operations") ?? 0
            let vector = try Int.fetchOne(db, sql: "SELECT sequence FROM version_vector WHERE origin = 'MAD'") ?? 0
            #expect(count == top && vector == top)
        }
        try pool.close()
    }

    /// Starts CrashWriter, waits for `afterAcks` acknowledgements, SIGKILLs it and returns every ack it printed.
    private func runAndKill(database: String, ipc: String, afterAcks: Int) throws -> [String: Int64] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.crashWriterPath())
        process.arguments = [database, "MAD", ipc]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let reader = pipe.fileHandleForReading
        var buffer = Data()
        var acks: [String: Int64] = [:]
        let deadline = Date().addingTimeInterval(60)
        func consume(_ data: Data) {
            buffer.append(data)
            while let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                buffer.removeSubrange(buffer.startIndex...newline)
                let parts = line.split(separator: " ")
                if parts.count == 3, parts[0] == "ACK", let quantity = Int64(parts[2]) { acks[String(parts[1])] = quantity }
            }
        }
        while acks.count < afterAcks && Date() < deadline && process.isRunning {
            let data = reader.availableData
            if data.isEmpty { break }
            consume(data)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        // Acks printed before the kill are still in the pipe.
        consume(reader.readDataToEndOfFile())
        #expect(process.terminationReason == .uncaughtSignal)
        return acks
    }
}

@Suite("Durability setting of the committing connection")
struct DurabilitySettingTests {
    /// GRDB turns a pool's writer to `synchronous = NORMAL` when it enables WAL; the node's pool must commit with
    /// `FULL` (2), so an acknowledged write survives a power loss, not only a crash.
    @Test(arguments: [(true, 2), (false, 1)])
    func writerConnectionSyncsAsConfigured(durable: Bool, expected: Int) throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let pool = try NodeStore.openPool(path: directory.file("node.sqlite"), durable: durable)
        #expect(try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") } == expected)
        #expect(try pool.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") } == expected)
        try pool.close()
    }
}
