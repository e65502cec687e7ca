import Foundation
import Testing

extension InvCLITests {
    /// `inv sync` keeps its output contracts now that it can draw progress: the progress line is only for a
    /// terminal on stderr, so scripts (pipes, `--json`) see exactly what they saw before.
    @Suite("inv sync: progress only on a terminal")
    struct SyncCommandTests {
        @Test("`inv sync --json` prints only the JSON reports; without a terminal, the human run prints only its summary")
        func jsonStaysMachineClean() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            for node in [mad, sev] { try node.start() }
            expectSuccess(try mad.inv("product", "add", "SKU-1", "--name", "Widget"))
            for _ in 0..<5 { expectSuccess(try mad.inv("receive", "SKU-1", "3")) }

            let synced = try sev.inv("sync", "--json", timeout: .seconds(60))
            expectSuccess(synced)
            #expect(!synced.stdout.contains("\r") && !synced.stdout.contains("\u{1B}"), "\(synced)")
            let reports = try #require(try JSON.parse(synced.stdout).array, "\(synced)")
            #expect(reports.count == 1)
            #expect(reports.first?["peer"] == "MAD")
            #expect(reports.first?["ok"] == .bool(true))
            #expect(Set(reports.first?.keys ?? []) == ["peer", "ok", "pulled", "pushed"])

            // Not a terminal: no progress line, no control characters; one summary line per peer on stdout.
            let human = try mad.inv("sync", timeout: .seconds(60))
            expectSuccess(human)
            #expect(human.lines.count == 2, "\(human)")
            #expect(human.lines.first?.hasPrefix("SEV: synced, ") == true, "\(human)")
            #expect(human.lines.last?.hasPrefix("gained ") == true, "\(human)")
            #expect(!human.stdout.contains("\r") && !human.stdout.contains("\u{1B}"), "\(human)")
        }

        @Test("a failed round says why by its kind: `failure` in --json, one line for people, the state in `inv peer list`")
        func failuresByKind() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            for node in [mad, sev] { try node.start() }
            expectSuccess(try mad.inv("sync"))
            sev.stop()

            let json = try mad.inv("sync", "--json", timeout: .seconds(60))
            #expect(json.status == 2, "\(json)")
            let report = try #require(try JSON.parse(json.stdout).array?.first, "\(json)")
            #expect(report["ok"] == .bool(false))
            #expect(report["failure"] == "connection_refused", "\(json)")
            let human = try mad.inv("sync", timeout: .seconds(60))
            #expect(human.status == 2)
            #expect(human.lines.first == "SEV: not reachable at \(sev.peerURL) (connection refused: is inv serve running there?)", "\(human)")
            let status = try mad.json("status")["peers"]?.array?.first { $0["warehouse"] == "SEV" }
            #expect(status?["last_failure"] == "connection_refused", "\(String(describing: status))")
            #expect(status?["reachable"] == .bool(false))

            expectSuccess(try mad.inv("sync", "--pause"))
            let paused = try mad.inv("sync", timeout: .seconds(60))
            #expect(paused.lines.first == "SEV: not synced: sync is paused here (inv sync --resume)", "\(paused)")
            let list = try mad.inv("peer", "list")
            #expect(list.lines.contains { $0.hasPrefix("SEV") && $0.contains("paused here") }, "\(list)")
        }

        @Test("the summary counts what the node gained during the command, also what the background loop merged")
        func summaryCountsBackgroundMerges() async throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            for node in [mad, sev] { try node.start() }
            expectSuccess(try mad.inv("product", "add", "SKU-1", "--name", "Widget"))
            expectSuccess(try sev.inv("sync"))

            // A backlog at MAD while SEV is down: when SEV starts, its background loop pulls it, and the round
            // `inv sync` forces waits for that one, then finds little or nothing left to merge itself.
            sev.stop()
            let backlog = (0..<40_000).map { _ in (id: UUID().uuidString.lowercased(), quantity: Int64(1)) }
            try await ClusterTests.submitReceipts(backlog, sku: "SKU-1", to: mad)
            try sev.start()
            let heldBefore = try ClusterTests.heldFromMAD(sev)
            // A catch-up this long outlasts the default --timeout (10 s per peer): wait for it.
            let synced = try sev.inv("sync", "--timeout", "120", timeout: .seconds(120))
            expectSuccess(synced)
            let target = try mad.json("status")["version_vector"]?["MAD"]?.int ?? 0
            let operations = try sev.json("status")["operations"]?.int ?? -1

            #expect(synced.lines.count == 2, "\(synced)")
            #expect(synced.lines.first?.hasPrefix("MAD: synced, ") == true, "\(synced)")
            let summary = try #require(synced.lines.last?.wholeMatch(of: /gained ([0-9,]+) operations during this sync; this node holds ([0-9,]+)/), "\(synced)")
            let gained = Int64(summary.1.filter(\.isNumber)) ?? -1
            let holds = Int64(summary.2.filter(\.isNumber)) ?? -1
            #expect(holds == operations, "\(synced)")
            #expect(gained <= operations, "\(synced)")
            if heldBefore < target - 5_000 {
                // Caught mid-pull: most of the backlog arrived while the command ran, whoever merged it.
                #expect(gained > 0, "held MAD:\(heldBefore) of \(target) before: \(synced)")
            } else {
                print("SyncCommandTests.summaryCountsBackgroundMerges: SEV held MAD:\(heldBefore) of \(target) before `inv sync`")
            }
        }
    }
}
