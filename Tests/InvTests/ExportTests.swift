import Foundation
import Testing

extension InvCLITests {
    /// `inv export postgres` against a real PostgreSQL server (Debian's `postgresql`, started for each test).
    @Suite("Export: the PostgreSQL mirror equals the node", .serialized)
    struct ExportTests {
        @Test("after writes and merges on three nodes, inv_ledger equals the ledger row for row and inv_stock equals `inv stock --all`")
        func mirrorEqualsNode() throws {
            let postgres = try PostgresServer()
            defer { postgres.stop() }
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            let bio = try cluster.join("BIO", via: mad)
            let all = [mad, sev, bio]
            for node in all { try node.start() }
            expectSuccess(try mad.inv("product", "add", "W1", "--name", "Widget\twith a tab", "--price", "2.50"))
            expectSuccess(try mad.inv("product", "add", "G2", "--name", "Gadget"))
            try cluster.converge(all)
            expectSuccess(try mad.inv("receive", "W1", "20", "--reason", "back\\slash\nand a line"))
            expectSuccess(try sev.inv("receive", "G2", "9"))
            expectSuccess(try bio.inv("receive", "W1", "4"))
            try cluster.converge(all)
            let shipped = try mad.inv("transfer", "W1", "6", "--to", "SEV")
            #expect(shipped.status == 0, "\(shipped)")
            expectSuccess(try sev.inv("sell", "G2", "2", "--reference", "order 17"))
            // A document's lines name it in inv_ledger.
            let delivery = cluster.root.file("delivery.csv")
            try Data("sku,quantity\nG2,3\n".utf8).write(to: URL(fileURLWithPath: delivery))
            expectSuccess(try bio.inv("receive", "--file", delivery))
            try cluster.converge(all)

            let first = try mad.run(["export", "postgres", "--url", postgres.url, "--data", mad.data], timeout: .seconds(60))
            expectSuccess(first)
            try Self.expectMirror(postgres, equals: mad)

            // More work, a deleted product and goods accepted, then the exporter runs again: only what is new.
            expectSuccess(try sev.inv("product", "remove", "G2", "--force"))
            expectSuccess(try bio.inv("receive", "W1", "1"))
            try cluster.converge(all)
            let transfer = try #require(try sev.json("transfers").array?.first?["id"]?.string)
            expectSuccess(try sev.inv("accept", transfer, "--quantity", "2"))
            try cluster.converge(all)
            let second = try mad.run(["export", "postgres", "--url", postgres.url, "--data", mad.data], timeout: .seconds(60))
            expectSuccess(second)
            try Self.expectMirror(postgres, equals: mad)
            let state = try postgres.psql("SELECT schema_version, operations FROM inv_export_state")
            #expect(state == ["3\t\(try mad.history().count)"], "\(state)")
            #expect(try postgres.psql("SELECT count(*) FROM inv_ledger WHERE document IS NOT NULL") == ["1"])
            let transfers = try postgres.psql("SELECT sku, from_warehouse, to_warehouse, quantity, shipped, accepted, returned FROM inv_transfers")
            #expect(transfers == ["W1\tMAD\tSEV\t4\t6\t2\t0"], "\(transfers)")
            let products = try postgres.psql("SELECT sku, name, price, deleted FROM inv_products ORDER BY sku")
            #expect(products == ["G2\tGadget\t\\N\tt", "W1\tWidget\twith a tab\t2.50\tf"], "\(products)")

            // SEV sends the rest back while a follower runs: a page holding only the return must refresh the
            // mirror's goods in transit (a new run refreshes every table; a follower only what its pages touched).
            let follower = try ChildProcess(
                inv: ["export", "postgres", "--url", postgres.url, "--follow", "--data", mad.data], outputIn: cluster.root.path)
            defer { _ = follower.stop(signal: SIGTERM, grace: .seconds(5)) }
            let held = try mad.history().count
            try Self.waitFor("the follower has caught up") {
                try postgres.psql("SELECT operations FROM inv_export_state") == ["\(held)"]
            }
            expectSuccess(try sev.inv("transfers", "return", transfer, "--reason", "damaged"))
            try cluster.converge(all)
            try Self.waitFor("the return reaches inv_transfers") {
                try postgres.psql("SELECT sku, from_warehouse, to_warehouse, quantity FROM inv_transfers") == ["W1\tSEV\tMAD\t4"]
            }
            try Self.expectMirror(postgres, equals: mad)
        }

        @Test("kill -9 of the exporter in the middle of a batch, then a restart: equal again, no duplicate, no gap")
        func killedMidBatch() throws {
            let postgres = try PostgresServer()
            defer { postgres.stop() }
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            try mad.start()
            expectSuccess(try mad.inv("product", "add", "W1", "--name", "Widget"))
            expectSuccess(try mad.run(["export", "postgres", "--url", postgres.url, "--data", mad.data], timeout: .seconds(60)))
            let jobs = (1...24).map { ["receive", "W1", "\($0)", "--data", mad.data] }
            for result in try runInvConcurrently(jobs, in: cluster.root.path, timeout: .seconds(60)) { expectSuccess(result) }

            // A session holds inv_export_state so that the exporter's first batch copies its rows into inv_ledger and
            // then waits, inside its transaction, to record the cursor: that is where it is killed.
            let locker = try Self.lockExportState(postgres)
            defer { locker.terminate() }
            let exporter = try ChildProcess(
                inv: ["export", "postgres", "--url", postgres.url, "--batch-size", "5", "--data", mad.data], outputIn: cluster.root.path)
            defer { exporter.stop(signal: SIGKILL, grace: .seconds(5)) }
            try Self.waitFor("the exporter waits for its lock inside a batch") {
                try postgres.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE inv_export_state%'") == ["1"]
            }
            exporter.stop(signal: SIGKILL, grace: .seconds(5))
            #expect(exporter.wasKilledBySignal)
            _ = try postgres.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()")
            locker.waitUntilExit()
            // The killed exporter's session ends once PostgreSQL notices its client is gone, releasing its lock.
            try Self.waitFor("the killed exporter's session ends") {
                try postgres.psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == ["0"]
            }
            let partial = try postgres.psql("SELECT count(*) FROM inv_ledger")
            #expect(partial == ["1"], "the killed batch left no row: \(partial)")

            let resumed = try mad.run(["export", "postgres", "--url", postgres.url, "--batch-size", "5", "--data", mad.data], timeout: .seconds(60))
            expectSuccess(resumed)
            try Self.expectMirror(postgres, equals: mad)
        }

        @Test("a bad --url and an unreachable server fail with one line")
        func badURL() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            try mad.start()
            #expect(expectOneLineError(try mad.inv("export", "postgres", "--url", "mysql://x@h/db")).contains("postgres://"))
            #expect(expectOneLineError(try mad.inv("export", "postgres", "--url", "postgres://h:5432/db")).contains("user"))
            let port = try freeLocalPort()
            #expect(expectOneLineError(try mad.inv("export", "postgres", "--url", "postgres://inv@127.0.0.1:\(port)/mirror"))
                .contains("cannot connect to PostgreSQL"))
        }

        /// inv_ledger equals the node's history row for row (with a consistent HLC), inv_stock equals
        /// `inv stock --all --json`.
        static func expectMirror(_ postgres: PostgresServer, equals node: ClusterNode, sourceLocation: SourceLocation = #_sourceLocation) throws {
            func cell(_ value: JSON?) -> String {
                switch value {
                case .string(let text)?: text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
                    .replacingOccurrences(of: "\t", with: "\\t")
                case .int(let number)?: String(number)
                case .bool(let flag)?: flag ? "t" : "f"
                default: "\\N"
                }
            }
            // psql prints a cell's tab, newline and backslash as they are: escape them on both sides alike.
            let history = try node.history().sorted {
                ($0["origin"]?.string ?? "", $0["sequence"]?.int ?? 0) < ($1["origin"]?.string ?? "", $1["sequence"]?.int ?? 0)
            }
            let expectedLedger = history.map { row in
                ["origin", "sequence", "id", "type", "sku", "warehouse", "quantity", "delta", "timestamp", "user", "reason", "reference",
                 "transfer_id", "counterpart", "document"].map { cell(row[$0]) }.joined(separator: "\t")
            }
            try expectLedger(postgres, expected: expectedLedger, sourceLocation: sourceLocation)

            let stock = try JSON.parse(try node.run(["stock", "--all", "--json", "--data", node.data]).stdout).array ?? []
            let expectedStock = stock.map { row in
                [cell(row["sku"]), cell(row["warehouse"]), cell(row["quantity"]), cell(row["product_deleted"])].joined(separator: "\t")
            }.sorted()
            let mirroredStock = try postgres.psql("SELECT sku, warehouse, quantity, product_deleted FROM inv_stock").sorted()
            #expect(mirroredStock == expectedStock, sourceLocation: sourceLocation)
            #expect(!expectedStock.isEmpty, sourceLocation: sourceLocation)
        }

        /// Each `inv_ledger` row, its text cells escaped like ``expectMirror``'s, equals the expected line; every
        /// row's HLC agrees with its timestamp.
        static func expectLedger(_ postgres: PostgresServer, expected: [String], sourceLocation: SourceLocation) throws {
            let escaped = { (column: String) in
                "coalesce(replace(replace(replace(\(column), E'\\\\', E'\\\\\\\\'), E'\\n', E'\\\\n'), E'\\t', E'\\\\t'), E'\\\\N')"
            }
            let columns = ["origin", "sequence::text", "id", "type", "sku", "warehouse", "quantity::text", "delta::text",
                           "to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')", "user_name", "reason",
                           "reference", "transfer_id", "counterpart", "document"].map(escaped)
            let lines = try postgres.psql("""
                SELECT concat_ws(E'\\t', \(columns.joined(separator: ", "))) FROM inv_ledger ORDER BY origin, sequence
                """)
            #expect(lines.count == expected.count, "\(lines.count) rows mirrored, \(expected.count) in the ledger", sourceLocation: sourceLocation)
            for (mirrored, wanted) in zip(lines, expected) where mirrored != wanted {
                Issue.record("mirrored \(mirrored)\n  ledger \(wanted)", sourceLocation: sourceLocation)
            }
            let inconsistent = try postgres.psql("""
                SELECT count(*) FROM inv_ledger WHERE (hlc >> 16) <> (extract(epoch FROM "timestamp") * 1000)::bigint
                """)
            #expect(inconsistent == ["0"], "rows whose hlc disagrees with their timestamp", sourceLocation: sourceLocation)
        }

        /// Starts a psql session that holds a SHARE lock on inv_export_state (until it is terminated), and waits
        /// until the lock is granted.
        static func lockExportState(_ postgres: PostgresServer) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: postgres.binaries + "/psql")
            process.arguments = [
                "-X", "-q", "-h", "127.0.0.1", "-p", String(postgres.port), "-U", "inv", "-d", "mirror", "-c",
                "BEGIN; LOCK TABLE inv_export_state IN SHARE MODE; SELECT pg_sleep(600);",
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            try waitFor("the lock on inv_export_state is held") {
                try postgres.psql("""
                    SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                    WHERE c.relname = 'inv_export_state' AND l.mode = 'ShareLock' AND l.granted
                    """) == ["1"]
            }
            return process
        }

        /// Polls `condition` until it holds, for at most 30 seconds.
        static func waitFor(_ what: String, _ condition: () throws -> Bool) throws {
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                if try condition() { return }
                usleep(20_000)
            }
            throw HarnessError("timed out waiting until \(what)")
        }
    }
}
