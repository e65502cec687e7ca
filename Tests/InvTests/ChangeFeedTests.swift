import Foundation
import Testing

extension InvCLITests {
    /// The change feed as a reporting job uses it: `inv changes --state FILE` run again and again against real
    /// nodes while warehouses go offline and come back with older operations.
    @Suite("Change feed: every operation exactly once, late ones included", .serialized)
    struct ChangeFeedTests {
        @Test("a receipt made offline with an older timestamp is in the next answer after its warehouse reconnects, once")
        func lateOperationFromOfflineWarehouse() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            try mad.start()
            try sev.start()
            expectSuccess(try mad.inv("product", "add", "W1", "--name", "Widget"))
            try cluster.converge([mad, sev])
            var reader = FeedReader(state: cluster.root.file("feed.state"))

            // SEV, offline, receives 5 units; MAD, later, records two movements of its own.
            mad.stop()
            expectSuccess(try sev.inv("receive", "W1", "5", "--reference", "offline"))
            sev.stop()
            try mad.start()
            expectSuccess(try mad.inv("receive", "W1", "20"))
            expectSuccess(try mad.inv("sell", "W1", "3"))
            let before = try reader.read(mad)
            #expect(!before.contains { $0["origin"] == "SEV" && $0["type"] == "receive" }, "\(before)")
            #expect(try reader.read(mad).isEmpty, "a second read with nothing new answers nothing")

            // SEV reconnects: the next answer holds its receipt, although it sorts before everything read so far.
            try sev.start()
            try cluster.converge([mad, sev])
            let after = try reader.read(mad)
            let late = after.filter { $0["origin"] == "SEV" && $0["type"] == "receive" }
            #expect(late.count == 1 && late.first?["reference"] == "offline" && late.first?["delta"] == 5, "\(after)")
            let receipt = try #require(late.first)
            let newest = before.compactMap { $0["timestamp"]?.string }.max() ?? ""
            #expect((receipt["timestamp"]?.string ?? "") <= newest, "the late receipt is older than what was read before it")
            #expect(try reader.read(mad).isEmpty)

            // Across every answer: each operation of the ledger exactly once, with history's keys, sequence and hlc.
            try reader.expectExactlyOnce(comparedWith: mad.history())
            for entry in reader.entries.values {
                for key in ["id", "type", "sku", "warehouse", "quantity", "delta", "origin", "sequence", "timestamp", "user", "hlc"] {
                    #expect(entry[key] != nil, "\(key) missing in \(entry)")
                }
            }
        }

        @Test("seeded random schedule on three nodes: offline writes, restarts and reads from any node, each operation once")
        func randomThreeNodes() throws {
            let seed = SplitMix64.testSeed()
            print("ChangeFeedTests.randomThreeNodes seed \(seed) (replay with INV_TEST_SEED=\(seed))")
            var random = SplitMix64(seed: seed)
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            let bio = try cluster.join("BIO", via: mad)
            let all = [mad, sev, bio]
            for node in all { try node.start() }
            expectSuccess(try mad.inv("product", "add", "W1", "--name", "Widget"))
            expectSuccess(try mad.inv("product", "add", "G2", "--name", "Gadget"))
            try cluster.converge(all)
            var reader = FeedReader(state: cluster.root.file("feed.state"))

            for step in 0..<14 {
                let node = all[Int(random.next() % 3)]
                switch random.next() % 5 {
                case 0 where node.isRunning && all.filter(\.isRunning).count > 1:
                    node.stop()
                case 0, 1:
                    if !node.isRunning { try node.start() }
                    let sku = random.next() % 2 == 0 ? "W1" : "G2"
                    expectSuccess(try node.inv("receive", sku, "\(1 + random.next() % 9)", "--id", random.uuid()))
                case 2:
                    if !node.isRunning { try node.start() }
                    let running = all.filter(\.isRunning)
                    if running.count > 1 { _ = try node.inv("sync", "--json", timeout: .seconds(60)) }
                default:
                    // The job reads from whichever node it reaches: the cursor names no node.
                    guard let target = all.filter(\.isRunning).randomElement(using: &random) else { continue }
                    _ = try reader.read(target)
                }
                _ = step
            }
            for node in all where !node.isRunning { try node.start() }
            try cluster.converge(all)
            _ = try reader.read(all[Int(random.next() % 3)])
            #expect(try reader.read(mad).isEmpty)
            try reader.expectExactlyOnce(comparedWith: mad.history())
        }

        @Test("--follow answers a new movement without polling; --state is replaced atomically; bad cursors are refused")
        func followAndState() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            try mad.start()
            expectSuccess(try mad.inv("product", "add", "W1", "--name", "=Widget"))
            let state = cluster.root.file("follow.state")
            let follower = try ChildProcess(inv: ["changes", "--follow", "--state", state, "--format", "csv", "--data", mad.data], outputIn: cluster.root.path)
            defer { follower.stop(signal: SIGKILL, grace: .seconds(5)) }
            expectSuccess(try mad.inv("receive", "W1", "7", "--reason", "=1+1"))
            let deadline = ContinuousClock.now + .seconds(30)
            while !follower.stdout.contains("receive"), ContinuousClock.now < deadline, follower.wait(upTo: .milliseconds(50)) == nil {}
            let lines = InvResult.lines(follower.stdout)
            #expect(lines.first == "id,type,sku,warehouse,quantity,delta,origin,sequence,timestamp,user,reason,reference,transfer_id,counterpart,hlc,document")
            let receipt = try #require(lines.first { $0.contains(",receive,") }, "\(follower.result())")
            // Spreadsheet formulas are neutralised; the numbers stay numbers.
            #expect(receipt.contains(",'=1+1,") && receipt.contains(",7,7,MAD,2,"), "\(receipt)")
            #expect(lines.contains { $0.contains(",product.create,") && $0.contains("W1") })
            // The cursor was saved after the page was printed: a run from the state file starts after the receipt.
            let stateDeadline = ContinuousClock.now + .seconds(10)
            var saved = try? String(contentsOfFile: state, encoding: .utf8)
            while saved == nil, ContinuousClock.now < stateDeadline, follower.wait(upTo: .milliseconds(50)) == nil {
                saved = try? String(contentsOfFile: state, encoding: .utf8)
            }
            let cursor = try #require(saved)
            let again = try mad.run(["changes", "--since", cursor, "--data", mad.data])
            expectSuccess(again)
            let page = try JSON.parse(again.stdout)
            #expect(page["changes"] == .array([]) && page["next"] == .string(cursor) && page["more"] == false, "\(again)")
            let temporaries = try FileManager.default.contentsOfDirectory(atPath: cluster.root.path).filter { $0.hasPrefix(".follow.state") }
            #expect(temporaries.isEmpty, "\(temporaries)")

            #expect(expectOneLineError(try mad.inv("changes", "--since", "AQ")).contains("cursor"))
            #expect(expectOneLineError(try mad.inv("changes", "--since", "x", "--state", state)).contains("not both"))
            try "garbage\n".write(toFile: state, atomically: true, encoding: .utf8)
            #expect(expectOneLineError(try mad.inv("changes", "--state", state)).contains("does not hold a change-feed cursor"))
        }
    }
}

/// A reporting job reading the change feed with `inv changes --state FILE`: every entry it was given, by dot.
struct FeedReader {
    let state: String
    private(set) var entries: [String: JSON] = [:]
    private(set) var duplicates: [String] = []

    init(state: String) { self.state = state }

    /// One run of `inv changes --state FILE` against `node`; returns the entries it printed.
    mutating func read(_ node: ClusterNode) throws -> [JSON] {
        let result = try node.run(["changes", "--state", state, "--data", node.data], timeout: .seconds(60))
        guard result.status == 0 else { throw HarnessError("\(node.warehouse): \(result)") }
        var read: [JSON] = []
        for line in result.lines where !line.isEmpty {
            let page = try JSON.parse(line)
            guard let changes = page["changes"]?.array, page["next"]?.string != nil else { throw HarnessError("not a page: \(line)") }
            for change in changes {
                guard let origin = change["origin"]?.string, let sequence = change["sequence"]?.int else {
                    throw HarnessError("an entry without its dot: \(change)")
                }
                let dot = "\(origin):\(sequence)"
                if entries[dot] != nil { duplicates.append(dot) }
                entries[dot] = change
                read.append(change)
            }
        }
        return read
    }

    /// Every entry of `history` was read once, nothing else was, and each read entry equals history's.
    func expectExactlyOnce(comparedWith history: [JSON], sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(duplicates.isEmpty, "delivered twice: \(duplicates)", sourceLocation: sourceLocation)
        var expected: [String: JSON] = [:]
        for row in history {
            guard let origin = row["origin"]?.string, let sequence = row["sequence"]?.int else { throw HarnessError("\(row)") }
            expected["\(origin):\(sequence)"] = row
        }
        #expect(Set(entries.keys) == Set(expected.keys),
                "missing \(Set(expected.keys).subtracting(entries.keys).sorted()), extra \(Set(entries.keys).subtracting(expected.keys).sorted())",
                sourceLocation: sourceLocation)
        for (dot, row) in expected {
            guard var entry = entries[dot]?.object else { continue }
            entry["hlc"] = nil
            #expect(JSON.object(entry) == row, "\(dot): \(entry) vs \(row)", sourceLocation: sourceLocation)
        }
    }
}
