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
            #expect(human.lines.count == 1, "\(human)")
            #expect(human.lines.first?.hasPrefix("SEV: synced, ") == true, "\(human)")
            #expect(!human.stdout.contains("\r") && !human.stdout.contains("\u{1B}"), "\(human)")
        }
    }
}
