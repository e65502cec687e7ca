import CRDT
import Foundation
import GRDB
import Store
import Testing

/// `DatabaseBackup` on real SQLite files, and the writer's catch-up after a restore: no local operation while
/// catching up, the node's own operations merged back from peers, and sequences that continue above them.
@Suite("Backup files and the catch-up after a restore")
struct BackupCatchUpTests {
    @Test func aBackupTakenWhileWritingHoldsEveryCommittedOperationAndChecksOut() async throws {
        try await withStore { store, directory in
            try await store.addProduct("A")
            let backup = directory.file("backup.sqlite")
            // Writes keep committing while the copy is taken from a read transaction.
            let writes = Task {
                for _ in 0..<200 { try await store.move(.receive, "A", 1) }
            }
            // Copy once some have committed, so the copy is taken among writes (a count, not a time).
            for _ in 0..<100_000 where try store.reader.operationCount() < 21 { await Task.yield() }
            let committedBefore = try store.reader.operationCount()
            let summary = try DatabaseBackup.write(from: store.pool, to: backup)
            try await writes.value
            #expect(summary.warehouse == "MAD")
            #expect(summary.operations >= committedBefore)
            #expect(summary.operations <= 201)
            #expect(summary.versionVector[rid("MAD")] == UInt64(summary.operations))
            #expect(try DatabaseBackup.inspect(path: backup) == summary)
            let mode = try FileManager.default.attributesOfItem(atPath: backup)[.posixPermissions] as? NSNumber
            #expect(mode?.intValue == 0o600)
            for suffix in ["-wal", "-shm", "-journal"] { #expect(!FileManager.default.fileExists(atPath: backup + suffix)) }
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix(".") }
            #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")
        }
    }

    @Test func filesThatAreNotInvDatabasesAreRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let garbage = directory.file("garbage")
        try Data((0..<5_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: URL(fileURLWithPath: garbage))
        #expect(throws: BackupError.notAnInvDatabase("not an SQLite database")) { try DatabaseBackup.inspect(path: garbage) }
        let empty = directory.file("empty.sqlite")
        #expect(FileManager.default.createFile(atPath: empty, contents: nil))
        #expect(throws: BackupError.notAnInvDatabase("no inv schema")) { try DatabaseBackup.inspect(path: empty) }
    }

    @Test("a token revoked in the replaced database stays revoked after restoring an older backup")
    func revocationsOfTheReplacedDatabaseSurviveTheRestore() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let backup = directory.file("mad-backup.sqlite")
        func token(_ id: String) -> TokenRecord {
            TokenRecord(id: id, name: "till-\(id)", role: .staff, secretHash: String(repeating: "a", count: 64), createdAt: 1)
        }
        do {
            let mad = try openStore("MAD", in: directory)
            defer { mad.close() }
            for id in ["t1", "t2", "t3"] { _ = try await mad.submit(.createToken(token(id))) }
            _ = try await mad.submit(.revokeToken(id: "t1", atMilliseconds: 5))
            _ = try DatabaseBackup.write(from: mad.pool, to: backup)
            // After the backup: t2 is revoked, t4 is made and revoked.
            _ = try await mad.submit(.revokeToken(id: "t2", atMilliseconds: 10))
            _ = try await mad.submit(.createToken(token("t4")))
            _ = try await mad.submit(.revokeToken(id: "t4", atMilliseconds: 11))
        }
        let revoked = try DatabaseBackup.revokedTokens(databaseAt: directory.file("MAD.sqlite"))
        #expect(revoked == ["t1": 5, "t2": 10, "t4": 11])
        #expect(try DatabaseBackup.revokedTokens(databaseAt: directory.file("missing.sqlite")).isEmpty)

        let restored = directory.file("restored.sqlite")
        try FileManager.default.copyItem(atPath: backup, toPath: restored)
        _ = try DatabaseBackup.prepareForRestore(path: restored, warehouse: "MAD")
        #expect(try DatabaseBackup.revoke(revoked, inDatabaseAt: restored) == 1)
        for suffix in ["-wal", "-shm", "-journal"] { #expect(!FileManager.default.fileExists(atPath: restored + suffix)) }
        let store = try NodeStore(path: restored, replica: rid("MAD"))
        defer { store.close() }
        let tokens: [String: Int64?] = Dictionary(uniqueKeysWithValues: try store.reader.tokens().map { ($0.id, $0.revokedAt) })
        // t1 as the backup had it, t2 revoked again with its own time, t3 live, t4 unknown to the backup.
        let expected: [String: Int64?] = ["t1": 5, "t2": 10, "t3": nil]
        #expect(tokens == expected)
    }

    @Test func anotherWarehousesDatabaseIsNotPreparedForRestore() async throws {
        try await withStore("SEV") { store, directory in
            let backup = directory.file("sev.sqlite")
            _ = try DatabaseBackup.write(from: store.pool, to: backup)
            #expect(throws: BackupError.otherWarehouse(found: "SEV", expected: "MAD")) {
                try DatabaseBackup.prepareForRestore(path: backup, warehouse: "MAD")
            }
        }
    }

    /// The restore scenario in one process: MAD's old backup, while SEV holds MAD's later operations.
    @Test func aRestoredStoreRefusesLocalWritesMergesItsOwnOperationsAndContinuesAboveThem() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let backup = directory.file("mad-backup.sqlite")
        var later: [LedgerOperation] = []
        do {
            let mad = try openStore("MAD", in: directory)
            defer { mad.close() }
            try await mad.addProduct("A")
            try await mad.move(.receive, "A", 10)
            _ = try DatabaseBackup.write(from: mad.pool, to: backup)
            try await mad.move(.sell, "A", 4)
            try await mad.move(.sell, "A", 5)
            later = try mad.reader.operations(origin: rid("MAD"), after: 2, limit: 100)
        }
        #expect(later.map(\.sequence) == [3, 4])

        let restored = directory.file("restored.sqlite")
        try FileManager.default.copyItem(atPath: backup, toPath: restored)
        let prepared = try DatabaseBackup.prepareForRestore(path: restored, warehouse: "MAD")
        #expect(prepared.catchingUp)
        #expect(prepared.versionVector[rid("MAD")] == 2)

        let store = try NodeStore(path: restored, replica: rid("MAD"))
        defer { store.close() }
        #expect(try store.reader.isCatchingUp())
        // Local writes are refused, whatever their kind; reads work.
        await #expect(throws: StoreError.catchingUp) { try await store.move(.sell, "A", 1) }
        await #expect(throws: StoreError.catchingUp) { try await store.addProduct("B") }
        #expect(try store.onHand("A") == 10)
        #expect(try store.reader.operationCount() == 2)

        // A peer hands back MAD's own later operations: merged, not refused as "from this node".
        guard case .merged(let report) = try await store.submit(.merge(later)) else { Issue.record("not merged"); return }
        #expect(report.applied == 2 && report.refused.isEmpty, "\(report)")
        #expect(try store.onHand("A") == 1)
        #expect(try store.reader.versionVector()[rid("MAD")] == 4)

        _ = try await store.submit(.finishCatchUp)
        #expect(try !store.reader.isCatchingUp())
        // The stock counts the later sales: selling 2 of the 1 left is refused; the next dot is (MAD, 5).
        await #expect(throws: StoreError.insufficientStock(sku: "A", warehouse: "MAD", onHand: 1, requested: 2)) {
            try await store.move(.sell, "A", 2)
        }
        let (sale, _) = try await store.move(.sell, "A", 1)
        #expect(sale.sequence == 5)
        // Outside a catch-up, echoes of operations this node holds are duplicates; one it never made is refused.
        guard case .merged(let again) = try await store.submit(.merge(later)) else { Issue.record("not merged"); return }
        #expect(again.applied == 0 && again.duplicates == 2 && again.refused.isEmpty, "\(again)")
        var unmade = later[1]
        unmade.sequence = 9
        guard case .merged(let claimed) = try await store.submit(.merge([unmade])) else { Issue.record("not merged"); return }
        #expect(claimed.applied == 0 && claimed.refused.count == 1, "\(claimed)")
    }
}
