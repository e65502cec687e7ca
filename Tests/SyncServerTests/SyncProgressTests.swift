@testable import SyncServer
import Testing

@Suite("Sync progress: the line `inv sync` draws and the catch-up log's rate")
struct SyncProgressTests {
    @Test func groupsThousandsWhateverTheLocale() {
        #expect(SyncProgress.grouped(0) == "0")
        #expect(SyncProgress.grouped(999) == "999")
        #expect(SyncProgress.grouped(1_000) == "1,000")
        #expect(SyncProgress.grouped(120_000) == "120,000")
        #expect(SyncProgress.grouped(1_234_567) == "1,234,567")
        #expect(SyncProgress.grouped(UInt64.max) == "18,446,744,073,709,551,615")
        #expect(SyncProgress.grouped(-1_234) == "-1,234")
    }

    @Test func oneLineForEveryPeerInARound() {
        #expect(SyncProgress.line([]) == nil)
        #expect(SyncProgress.line([SyncProgress(peer: "SEV", merged: 120_000, behind: 880_000)])
            == "syncing with SEV: 120,000 merged, 880,000 behind")
        #expect(SyncProgress.line([
            SyncProgress(peer: "BIO", merged: 0, behind: 12), SyncProgress(peer: "SEV", merged: 5, behind: 0),
        ]) == "syncing with BIO: 0 merged, 12 behind; SEV: 5 merged, 0 behind")
    }

    @Test func catchUpLinesAreBoundedInRate() {
        var log = CatchUpLog()
        #expect(!log.loggedAny)
        // (behind, now) per merged page, and whether each should log.
        let pages: [(behind: UInt64, now: Double, logs: Bool)] = [
            (9_999, 0, false),  // an ordinary round never logs
            (990_000, 1, true),  // far behind: the first page logs at once,
            (980_000, 2, false),  // then at most one line per interval
            (970_000, 2.999, false),
            (960_000, 3, true),
            (100, 10, false),  // nearly there: quiet again
        ]
        for page in pages {
            let logged = log.pageMerged(behind: page.behind, now: page.now)
            #expect(logged == page.logs, "page \(page)")
        }
        // A closing line is due.
        #expect(log.loggedAny)
    }
}
