import ArgumentParser
import AsyncHTTPClient
import CRDT
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import Store
import Synchronization
import SyncServer

/// The PostgreSQL mirror: `inv export postgres` catching up with a node that holds a large ledger, beside
/// PostgreSQL's own bulk load of the same rows, then following a steady stream of writes.
struct ExportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Mirror throughput into PostgreSQL and commit-to-row latency with --follow.")

    @Option(help: "Operations the node holds.") var operations = 1_000_000
    @Option(help: "Distinct SKUs.") var skus = 10_000
    @Option(help: "Origins the operations come from.") var origins = 4
    @Option(help: "Writes per second while following.") var rate = 200
    @Option(help: "Seconds of writes while following.") var seconds = 15

    func run() async throws {
        let scratch = try scratchDirectory("export")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        print("inv-bench export: a node holding \(operations) operations (\(skus) SKUs, \(origins) origins) mirrored into an empty PostgreSQL over HTTPS; then \(rate) writes/s with --follow")

        let cluster = try await BenchCluster.create(in: scratch, antiEntropySeconds: 3_600)
        let a = cluster.a
        let fillStart = now()
        try await SyncBench.parse(["--operations", "\(operations)", "--skus", "\(skus)", "--origins", "\(origins)"])
            .fill(a.directory, replica: try ReplicaID("A"))
        figure("backlog merged into the node (setup)", Double(operations) / (now() - fillStart), "ops/s")

        let postgres = try TemporaryPostgres.start(in: scratch)
        defer { postgres.stop() }
        try postgres.psql("CREATE DATABASE mirror", database: "postgres")
        let inv = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            .deletingLastPathComponent().appendingPathComponent("inv").path
        guard FileManager.default.isExecutableFile(atPath: inv) else { throw BenchError("build inv beside inv-bench first (\(inv))") }
        let exportArguments = [
            "export", "postgres", "--url", postgres.url("mirror"), "--node", a.config.url,
            "--ca", PKIFiles(directory: a.directory.tlsDirectory).caCertificatePath, "--token", a.adminToken,
        ]

        let client = try cluster.makeClient()
        let node = try NodeProcess.spawn(a.directory)
        let running = Mutex<Process?>(nil)
        var follower: Process? { running.withLock { $0 } }
        do {
            _ = try await NodeStatus.wait(client: client, url: a.config.url, token: a.adminToken) { $0.history_index_backlog == 0 }

            // 1. Catch-up: an empty database to every operation, one run of the exporter.
            let start = now()
            try TemporaryPostgres.run(inv, exportArguments)
            let catchUp = now() - start
            let rows = Int(try postgres.psql("SELECT count(*) FROM inv_ledger", database: "mirror")) ?? 0
            guard rows == operations else { throw BenchError("the mirror holds \(rows) rows, the node \(operations)") }
            let rowsPerSecond = Double(rows) / catchUp

            // 2. The reference: PostgreSQL's own COPY of the same rows from a file into an empty table with the same
            //    key, by psql, in the same run on the same server.
            let file = scratch + "/ledger.copy"
            try postgres.psql("\\copy inv_ledger TO '\(file)'", database: "mirror")
            try postgres.psql("CREATE TABLE reference_ledger (LIKE inv_ledger INCLUDING ALL)", database: "mirror")
            let referenceStart = now()
            try postgres.psql("\\copy reference_ledger FROM '\(file)'", database: "mirror")
            let referenceSeconds = now() - referenceStart
            try postgres.psql("DROP TABLE reference_ledger", database: "mirror")
            try? FileManager.default.removeItem(atPath: file)

            figure("catch-up (empty mirror to all rows)", catchUp, "s")
            figure("export_rows_per_s", rowsPerSecond, "rows/s", limit: ">= 100000")
            figure("reference: psql \\copy of the rows", Double(rows) / referenceSeconds, "rows/s")
            figure("export / reference", rowsPerSecond / (Double(rows) / referenceSeconds), "")

            // 3. Follow: a trigger announces each mirrored row at its commit; latency is from the operation's
            //    timestamp (taken on the node as it is written, before its commit) to that announcement.
            try postgres.psql("""
                CREATE FUNCTION inv_bench_notify() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN PERFORM pg_notify('inv_bench', NEW.hlc::text); RETURN NULL; END $$;
                CREATE TRIGGER inv_bench_notify AFTER INSERT ON inv_ledger FOR EACH ROW EXECUTE FUNCTION inv_bench_notify();
                """, database: "mirror")
            let followerLog = scratch + "/follower.log"
            let latencies = try await follow(
                postgres: postgres, client: client, url: a.config.url, token: a.adminToken,
                followerLog: followerLog, follower: { running.withLock { $0 } }
            ) {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: inv)
                process.arguments = exportArguments + ["--follow"]
                guard FileManager.default.createFile(atPath: followerLog, contents: nil) else {
                    throw BenchError("cannot create \(followerLog)")
                }
                process.standardOutput = FileHandle.nullDevice
                process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: followerLog))
                try process.run()
                running.withLock { $0 = process }
            }
            // SIGTERM, not SIGINT: a shell without job control starts background commands with SIGINT ignored,
            // and the follower inherits that.
            follower?.terminate()
            follower?.waitUntilExit()
            await node.stop()
            try await client.shutdown()

            let sorted = latencies.sorted()
            let p99 = percentile(sorted, 0.99)
            figure("follow: rows mirrored", Double(sorted.count), "rows")
            figure("follow p50 commit->row", percentile(sorted, 0.50), "ms")
            figure("follow_p99_ms", p99, "ms", limit: "<= 100")
            figure("follow max", sorted.last ?? 0, "ms")
            print(String(format: "RESULT export_rows_per_s=%.0f follow_p99_ms=%.1f", rowsPerSecond, p99))
        } catch {
            if let follower, follower.isRunning { follower.terminate() }
            await node.stop()
            try? await client.shutdown()
            throw error
        }
    }

    /// How long after the last write every row must have reached PostgreSQL.
    static let drainSeconds = 30

    /// Starts the follower (`startFollower`), writes `rate` receipts a second for `seconds` seconds, and returns each
    /// one's latency in milliseconds, from its timestamp on the node to its row's commit in PostgreSQL.
    ///
    /// Bounded: once the writes are answered, the rows have ``drainSeconds`` to reach the mirror (or the follower
    /// to exit); then a sentinel notification ends the wait, and missing rows are an error naming the follower's
    /// last words.
    func follow(
        postgres: TemporaryPostgres, client: HTTPClient, url: String, token: String, followerLog: String,
        follower: @escaping @Sendable () -> Process?, startFollower: () throws -> Void
    ) async throws -> [Double] {
        var logger = Logger(label: "inv-bench.export")
        logger.logLevel = .error
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: "127.0.0.1", port: postgres.port, username: "inv", password: nil, database: "mirror", tls: .disable),
            id: 2, logger: logger)
        let codes = (0..<skus).map { String(format: "SKU-%05d", $0) }
        func write() async throws {
            var request = HTTPClientRequest(url: url + "/v1/movements")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Content-Type", value: "application/json")
            let body = "{\"type\":\"receive\",\"sku\":\"\(codes.randomElement() ?? "SKU-00000")\",\"quantity\":1}"
            request.body = .bytes(ByteBuffer(string: body))
            let response = try await client.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .created else { throw BenchError("a write answered HTTP \(response.status.code)") }
        }
        @Sendable func mirrored() -> Int {
            (try? postgres.psql("SELECT count(*) FROM inv_ledger", database: "mirror")).flatMap { Int($0) } ?? 0
        }
        func milliseconds(_ notification: PostgresNotification) -> Double? {
            guard let hlc = UInt64(notification.payload) else { return nil }
            return Date().timeIntervalSince1970 * 1_000 - Double(hlc >> 16)
        }

        let count = rate * seconds
        do {
            let latencies = try await connection.listen(on: "inv_bench") { notifications in
                try startFollower()
                var iterator = notifications.makeAsyncIterator()
                // Warm-up: one write through, so the follower has caught up and waits in a long-poll.
                try await write()
                guard try await iterator.next() != nil else { throw BenchError("no notification for the warm-up write") }
                let expected = mirrored() + count
                let writes = Task {
                    var failure: (any Error)?
                    do {
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            let start = ContinuousClock.now
                            for index in 0..<count {
                                try await Task.sleep(until: start + .microseconds(index * 1_000_000 / rate), clock: .continuous)
                                group.addTask { try await write() }
                            }
                            try await group.waitForAll()
                        }
                    } catch {
                        failure = error
                    }
                    // The end of the wait: every row is in, the follower is gone, or the drain time is up.
                    let deadline = ContinuousClock.now + .seconds(Self.drainSeconds)
                    while failure == nil, mirrored() < expected, follower()?.isRunning != false, ContinuousClock.now < deadline {
                        try? await Task.sleep(for: .milliseconds(200))
                    }
                    _ = try? postgres.psql("NOTIFY inv_bench, 'end'", database: "mirror")
                    if let failure { throw failure }
                }
                var latencies: [Double] = []
                latencies.reserveCapacity(count)
                while latencies.count < count, let notification = try await iterator.next(), notification.payload != "end" {
                    if let latency = milliseconds(notification) { latencies.append(latency) }
                }
                try await writes.value
                guard latencies.count == count else {
                    let log = (try? String(contentsOfFile: followerLog, encoding: .utf8)) ?? ""
                    let state = follower()?.isRunning == false ? "it exited" : "it was still running"
                    throw BenchError("""
                        only \(latencies.count) of \(count) followed rows reached PostgreSQL within \(Self.drainSeconds) s \
                        of the last write (\(mirrored()) rows mirrored, \(expected) expected); the follower: \(state), \
                        its log: \(log.suffix(600))
                        """)
                }
                return latencies
            }
            try await connection.close()
            return latencies
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
