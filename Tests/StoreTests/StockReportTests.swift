import CRDT
import Foundation
import Store
import Synchronization
import Testing

@Suite("Committed events carry the stock their transaction left, when asked")
struct StockReportTests {
    final class Commits: Sendable {
        private let all = Mutex<[CommittedEvents]>([])
        func append(_ events: CommittedEvents) { all.withLock { $0.append(events) } }
        var last: CommittedEvents? { all.withLock { $0.last } }
    }

    static func open(_ name: String, in directory: TemporaryDirectory, reports: Bool, into commits: Commits) throws -> NodeStore {
        var options = NodeStore.Options()
        options.writer.reportsStock = { reports }
        return try NodeStore(path: directory.file("\(name).sqlite"), replica: rid(name), options: options, onCommit: { commits.append($0) })
    }

    @Test func localMovementsAndMergedPagesReportTheStockTheyLeave() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let madCommits = Commits()
        let mad = try Self.open("MAD", in: directory, reports: true, into: madCommits)
        defer { mad.close() }
        try await mad.addProduct("A")
        try await mad.move(.receive, "A", 10)
        #expect(madCommits.last?.stockAfter() == [sku("A"): [rid("MAD"): 10]])
        try await mad.move(.sell, "A", 3)
        #expect(madCommits.last?.stockAfter() == [sku("A"): [rid("MAD"): 7]])

        // A refused command reports nothing, and leaves the last report as it was.
        await #expect(throws: StoreError.self) { try await mad.move(.sell, "A", 100) }
        #expect(madCommits.last?.stockAfter() == [sku("A"): [rid("MAD"): 7]])

        // A page merged in one transaction reports the stock after all of it, not after its first movement.
        let sevCommits = Commits()
        let sev = try Self.open("SEV", in: directory, reports: true, into: sevCommits)
        defer { sev.close() }
        _ = try await sev.submit(.merge(try mad.reader.operations(origin: rid("MAD"), after: 0, limit: 100)))
        #expect(sevCommits.last?.stockAfter() == [sku("A"): [rid("MAD"): 7]])
        #expect(try sev.reader.onHand(sku: "A", warehouse: "MAD") == 7)
    }

    @Test func nothingIsReportedUnlessAsked() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let commits = Commits()
        let store = try Self.open("MAD", in: directory, reports: false, into: commits)
        defer { store.close() }
        try await store.addProduct("A")
        try await store.move(.receive, "A", 10)
        #expect(commits.last.map { Array($0).count } == 1)
        #expect(commits.last?.stockAfter() == [:])
    }
}
