import CRDT
import Foundation
import GRDB
import Store
import Testing

extension InvCLITests {
    /// `inv backup` and `inv restore` as real processes on real nodes and SQLite files.
    @Suite("Backup and restore", .serialized)
    struct BackupRestoreTests {
        static let backupKeys: Set<String> = ["file", "bytes", "warehouse", "operations", "version_vector"]

        /// Keeps `width` `inv receive` processes running against `node` until `until` says stop; returns the ids of
        /// the receipts acknowledged (exit 0) and those whose process had already exited 0 when `mark` was called.
        final class Burst {
            let node: NodeFixture
            private(set) var acknowledged: [String: Date] = [:]
            private var inFlight: [(child: ChildProcess, id: String)] = []

            init(node: NodeFixture) { self.node = node }

            /// Tops up the burst, reaps finished receipts; returns how many finished in this call.
            @discardableResult
            func step(width: Int = 4) throws -> Int {
                while inFlight.count < width {
                    let id = UUID().uuidString.lowercased()
                    let child = try ChildProcess(inv: ["receive", "BURST", "1", "--id", id, "--data", node.data], outputIn: node.root.path)
                    inFlight.append((child, id))
                }
                var finished = 0
                for (index, entry) in inFlight.enumerated().reversed() where !entry.child.process.isRunning {
                    let result = entry.child.result()
                    #expect(result.status == 0, "a receipt failed during the burst: \(result)")
                    if result.status == 0 { acknowledged[entry.id] = Date() }
                    try? FileManager.default.removeItem(atPath: entry.child.stdoutPath)
                    try? FileManager.default.removeItem(atPath: entry.child.stderrPath)
                    inFlight.remove(at: index)
                    finished += 1
                }
                if finished == 0 { usleep(2_000) }
                return finished
            }

            func drain() throws {
                while !inFlight.isEmpty {
                    for entry in inFlight { _ = entry.child.wait(upTo: .seconds(30)) }
                    _ = try step(width: 0)
                }
            }
        }

        /// Runs `arguments` as a child while the burst goes on, once at least `acknowledged` receipts are; returns
        /// its result and the receipts acknowledged before it started.
        static func runDuringBurst(_ burst: Burst, after acknowledged: Int, _ arguments: [String]) throws -> (InvResult, Set<String>) {
            for _ in 0..<10_000 where burst.acknowledged.count < acknowledged { try burst.step() }
            let before = Set(burst.acknowledged.keys)
            let child = try ChildProcess(inv: arguments, outputIn: burst.node.root.path)
            let deadline = ContinuousClock.now + .seconds(60)
            while child.process.isRunning && ContinuousClock.now < deadline { try burst.step() }
            _ = child.wait(upTo: .seconds(5))
            return (child.result(), before)
        }

        @Test("a backup taken during a write burst (--data and --node) restores every receipt acknowledged before it")
        func backupDuringBurstThenRestore() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            try node.start()
            expectSuccess(try node.inv("product", "add", "BURST", "--name", "Burst"))
            let burst = Burst(node: node)
            let direct = node.root.file("direct.sqlite")
            let streamed = node.root.file("streamed.sqlite")
            let (directRun, beforeDirect) = try Self.runDuringBurst(burst, after: 10, ["backup", "--out", direct, "--json", "--data", node.data])
            let token = try node.adminToken
            // The second backup starts only once a receipt after the first one's start is acknowledged: it must cover more.
            let (streamedRun, beforeStreamed) = try Self.runDuringBurst(burst, after: beforeDirect.count + 1, [
                "backup", "--out", streamed, "--json", "--node", node.url, "--ca", node.caFile, "--token", token,
            ])
            try burst.drain()
            #expect(directRun.status == 0 && directRun.stderr.isEmpty, "\(directRun)")
            #expect(streamedRun.status == 0 && streamedRun.stderr.isEmpty, "\(streamedRun)")
            let directJSON = try JSON.parse(directRun.stdout)
            let streamedJSON = try JSON.parse(streamedRun.stdout)
            let mad = try ReplicaID("MAD")
            for (json, file) in [(directJSON, direct), (streamedJSON, streamed)] {
                #expect(json.keys == Self.backupKeys)
                #expect(json["file"] == .string(file))
                #expect(json["warehouse"] == "MAD")
                let summary = try DatabaseBackup.inspect(path: file)
                #expect(json["operations"]?.int == Int64(summary.operations))
                let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int
                #expect(json["bytes"]?.int == size.map(Int64.init))
                #expect(json["version_vector"] == .object(["MAD": .int(Int64(summary.versionVector[mad]))]))
                #expect(try permissions(file) == 0o600)
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: node.root.path).filter { $0.hasPrefix(".") }.isEmpty)

            // Restore the first backup into the stopped node: every receipt acknowledged before it is there.
            #expect(node.stop() == 0)
            let restore = try node.inv("restore", direct, "--json")
            #expect(restore.status == 0 && restore.stderr.isEmpty, "\(restore)")
            let restored = try JSON.parse(restore.stdout)
            #expect(restored["catching_up"] == true)
            #expect(restored["operations"] == directJSON["operations"])
            for suffix in ["-wal", "-shm", "-journal"] {
                #expect(!FileManager.default.fileExists(atPath: node.data + "/inv.sqlite" + suffix), "inv.sqlite\(suffix) left behind")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: node.data).allSatisfy { !$0.contains("restoring") })
            let database = try DatabaseBackup.inspect(path: node.data + "/inv.sqlite")
            #expect(database.catchingUp && Int64(database.operations) == directJSON["operations"]?.int)
            try node.start()
            let history = try JSON.parse(try node.inv("history", "--sku", "BURST", "--type", "receive", "--json").stdout).array ?? []
            let held = Set(history.compactMap { $0["id"]?.string })
            #expect(held.count == history.count)
            #expect(beforeDirect.isSubset(of: held), "receipts acknowledged before the backup are missing: \(beforeDirect.subtracting(held).sorted())")
            #expect(Int64(history.count + 1) == directJSON["operations"]?.int)
            #expect(beforeStreamed.count > beforeDirect.count)
            // A node with no other member has nothing to catch up with: it writes at once.
            expectSuccess(try node.inv("receive", "BURST", "1"))
            #expect(try JSON.parse(try node.inv("status", "--json").stdout)["catching_up"] == false)
        }

        @Test("restore refuses a live node, a file that is no inv database and another warehouse's backup, changing nothing")
        func restoreRefusals() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            // A backup of a node that is not serving, straight from its data directory.
            let sev = try NodeFixture(warehouse: "SEV")
            defer { sev.cleanup() }
            let sevBackup = node.root.file("sev.sqlite")
            expectSuccess(try sev.inv("backup", "--out", sevBackup))
            let ownBackup = node.root.file("mad.sqlite")
            expectSuccess(try node.inv("backup", "--out", ownBackup))

            try node.start()
            let live = try node.inv("restore", ownBackup)
            #expect(live.status == 1)
            #expect(expectOneLineError(live) == "inv: error: the node MAD in \(node.data) is running; stop it before restoring")
            #expect(node.stop() == 0)

            let garbage = node.root.file("garbage.sqlite")
            try Data((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }).write(to: URL(fileURLWithPath: garbage))
            let before = try Self.contents(of: node.data)
            #expect(expectOneLineError(try node.inv("restore", garbage))
                == "inv: error: cannot restore \(garbage): not an inv database (not an SQLite database)")
            #expect(try Self.contents(of: node.data) == before, "a refused restore changed the data directory")
            #expect(expectOneLineError(try node.inv("restore", sevBackup))
                == "inv: error: cannot restore \(sevBackup): it is a database of warehouse SEV, not MAD")
            #expect(try Self.contents(of: node.data) == before, "a refused restore changed the data directory")
            #expect(expectOneLineError(try node.inv("restore", node.root.file("missing.sqlite")))
                == "inv: error: cannot read \(node.root.file("missing.sqlite"))")
            #expect(try DatabaseBackup.inspect(path: node.data + "/inv.sqlite").warehouse == "MAD")
        }

        /// A planted admin token (secret `planted-secret`) and a trigger that mints another admin token whenever a
        /// token is created: what an attacker with write access to a backup file could leave in it.
        static func plant(in backup: String) throws {
            let queue = try DatabaseQueue(path: backup)
            defer { try? queue.close() }
            try queue.write { db in
                let hash = "0101796e082e85a7acb098392550a36dcae559684bab7633d509868b9c5b6a88"
                try db.execute(sql: """
                    INSERT INTO tokens (id, name, role, secret_hash, created_at) VALUES ('planted', 'planted', 'admin', '\(hash)', 1);
                    CREATE TRIGGER mint_admin AFTER INSERT ON tokens WHEN new.name <> 'minted' BEGIN
                        INSERT INTO tokens (id, name, role, secret_hash, created_at)
                        VALUES (new.id || 'm', 'minted', 'admin', '\(hash)', 1);
                    END;
                    CREATE VIEW every_secret AS SELECT secret_hash FROM tokens;
                    CREATE TABLE loot (x);
                    """)
            }
        }

        static func tokenIDs(_ node: NodeFixture) throws -> [String] {
            let list = try node.inv("token", "list", "--json")
            #expect(list.status == 0, "\(list)")
            return try JSON.parse(list.stdout).array?.compactMap { $0["id"]?.string }.sorted() ?? []
        }

        static func schemaObjects(_ database: String) throws -> [String] {
            let queue = try DatabaseQueue(path: database)
            defer { try? queue.close() }
            return try queue.read { db in
                try String.fetchAll(db, sql: "SELECT type || ' ' || name FROM sqlite_master WHERE type IN ('trigger', 'view', 'table') ORDER BY 1")
            }
        }

        @Test("restore rebuilds from rows: a planted trigger, view and table are left behind, a planted token only with --keep-tokens")
        func restoreTrustsNothingButData() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            let cleanSchema = try Self.schemaObjects(node.data + "/inv.sqlite")
            let backup = node.root.file("planted.sqlite")
            expectSuccess(try node.inv("backup", "--out", backup))
            try Self.plant(in: backup)
            let planted = "inv_planted_planted-secret"
            let ownTokens = try Self.tokenIDsOffline(node)

            // Default: the node keeps its own tokens; the backup's are dropped, and the admin is told.
            let restore = try node.inv("restore", backup)
            #expect(restore.status == 0, "\(restore)")
            #expect(restore.lines.contains("tokens: kept the node's own 1 token; the backup's 2 not restored (--keep-tokens restores them)"),
                "\(restore)")
            #expect(restore.stderrLines == ["inv: warning: not restored, not made by inv: trigger mint_admin, table loot, view every_secret"],
                "\(restore)")
            #expect(try Self.schemaObjects(node.data + "/inv.sqlite") == cleanSchema)
            try node.start()
            #expect(try Self.tokenIDs(node) == ownTokens)
            #expect(expectOneLineError(try node.inv("token", "list", "--token", planted)) == "inv: error: missing or invalid bearer token")
            let created = try node.inv("token", "create", "--role", "staff", "--name", "till")
            #expect(created.status == 0, "\(created)")
            #expect(try Self.tokenIDs(node).count == ownTokens.count + 1, "a token creation made more than one token")
            #expect(node.stop() == 0)

            // --keep-tokens: the backup's token is restored (its owner chose it), the trigger still is not.
            let kept = try node.inv("restore", backup, "--keep-tokens", "--json")
            #expect(kept.status == 0, "\(kept)")
            let json = try JSON.parse(kept.stdout)
            #expect(json["tokens_from_backup"] == true && json["tokens"] == 2)
            #expect(json["ignored_schema_objects"] == .array(["trigger mint_admin", "table loot", "view every_secret"]))
            #expect(try Self.schemaObjects(node.data + "/inv.sqlite") == cleanSchema)
            try node.start()
            let ids = try Self.tokenIDs(node)
            #expect(ids == (ownTokens + ["planted"]).sorted())
            #expect(try node.inv("token", "list", "--token", planted).status == 0, "the kept backup token works")
            #expect(try node.inv("token", "create", "--role", "staff", "--name", "till").status == 0)
            #expect(try Self.tokenIDs(node).count == ids.count + 1, "a token creation made more than one token")
        }

        /// The token ids of a stopped node, read from its database file.
        static func tokenIDsOffline(_ node: NodeFixture) throws -> [String] {
            let queue = try DatabaseQueue(path: node.data + "/inv.sqlite")
            defer { try? queue.close() }
            return try queue.read { db in try String.fetchAll(db, sql: "SELECT id FROM tokens ORDER BY id") }
        }

        /// Every regular file of a directory (recursively) with its bytes.
        static func contents(of directory: String) throws -> [String: Data] {
            var files: [String: Data] = [:]
            let enumerator = FileManager.default.enumerator(atPath: directory)
            while let name = enumerator?.nextObject() as? String {
                let path = directory + "/" + name
                guard try FileManager.default.attributesOfItem(atPath: path)[.type] as? FileAttributeType == .typeRegular else { continue }
                files[name] = try Data(contentsOf: URL(fileURLWithPath: path))
            }
            return files
        }

        @Test("an old backup restored on A: writes are 503 until A caught up from B, then both converge with no dot reused")
        func catchUpAfterRestoringAnOldBackup() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            try mad.start()
            try sev.start()
            expectSuccess(try mad.inv("product", "add", "A", "--name", "Chair"))
            expectSuccess(try mad.inv("receive", "A", "10"))
            try cluster.converge([mad, sev])
            let old = cluster.root.file("mad-old.sqlite")
            let backup = try mad.json("backup", "--out", old)
            #expect(backup["version_vector"]?["MAD"] == 2)

            // After the backup MAD sells 7, and SEV receives those sales.
            expectSuccess(try mad.inv("sell", "A", "3"))
            expectSuccess(try mad.inv("sell", "A", "4"))
            try cluster.converge([mad, sev])
            mad.stop()
            sev.stop()

            // MAD's disk is restored from the old backup and starts while SEV is down: reads work, writes wait.
            let restored = try mad.run(["restore", old, "--json", "--data", mad.data])
            #expect(restored.status == 0, "\(restored)")
            try mad.start()
            let status = try mad.json("status")
            #expect(status["catching_up"] == true)
            #expect(try Self.stock(mad, "A") == 10, "the restored node shows the stock of the backup")
            let refused = try mad.inv("sell", "A", "9")
            #expect(expectOneLineError(refused).contains("restored from a backup and is catching up with its peers"))
            #expect(expectOneLineError(try mad.inv("receive", "A", "1")).contains("catching up"))
            #expect(try mad.json("status")["operations"] == 2, "nothing was written while catching up")

            // SEV comes back: MAD pulls its own later sales from it, then writes again.
            try sev.start()
            let deadline = ContinuousClock.now + .seconds(30)
            var caughtUp = false
            while !caughtUp && ContinuousClock.now < deadline {
                _ = try mad.inv("sync", timeout: .seconds(30))
                caughtUp = try mad.json("status")["catching_up"] == false
                if !caughtUp { usleep(200_000) }
            }
            #expect(caughtUp, "MAD did not catch up from SEV:\n\(mad.serverLogs)")
            #expect(try Self.stock(mad, "A") == 3, "the sales made after the backup count again")
            let oversell = try mad.inv("sell", "A", "4")
            #expect(expectOneLineError(oversell) == "inv: error: not enough stock of A in MAD: 3 on hand, 4 requested")
            let sale = try mad.json("sell", "A", "1")
            #expect(sale["sequence"] == 5, "the next dot of MAD follows the ones SEV held: \(sale)")

            let common = try cluster.converge([mad, sev])
            #expect(common["version_vector"]?["MAD"] == 5)
            for node in [mad, sev] {
                let history = try node.history()
                let dots = history.compactMap { row -> String? in
                    guard let origin = row["origin"]?.string, let sequence = row["sequence"]?.int else { return nil }
                    return "\(origin):\(sequence)"
                }
                #expect(dots.count == history.count && Set(dots).count == dots.count, "\(node.warehouse) holds a dot twice: \(dots)")
                #expect(Set(dots) == ["MAD:1", "MAD:2", "MAD:3", "MAD:4", "MAD:5"], "\(node.warehouse): \(dots)")
            }
        }

        static func stock(_ node: ClusterNode, _ sku: String) throws -> Int64? {
            try node.json("stock", sku).array?.first?["quantity"]?.int
        }
    }
}
