import CRDT
// swift-crypto 3.12 does not yet mark its keys Sendable; they are immutable.
@preconcurrency import Crypto
import Foundation
import Store
import Testing

/// Two real stores: one signs its chain heads, the other merges only what those heads prove.
@Suite("Signed merges between stores")
struct SignedMergeTests {
    /// A store that signs its heads with `key` and knows the keys in `known`.
    static func open(_ name: String, key: P256.Signing.PrivateKey, ca: P256.Signing.PrivateKey, in directory: TemporaryDirectory) throws -> NodeStore {
        var options = NodeStore.Options()
        options.writer.signingKey = key
        options.writer.clusterKey = ca.publicKey
        return try NodeStore(path: directory.file("\(name).sqlite"), replica: rid(name), options: options)
    }

    /// Stores A and B of one cluster, each with a key of its own (A's returned, with the CA's): B knows no
    /// origin certificate yet.
    static func pair(
        in directory: TemporaryDirectory
    ) throws -> (a: NodeStore, b: NodeStore, keyA: P256.Signing.PrivateKey, ca: P256.Signing.PrivateKey) {
        let (keyA, ca) = (P256.Signing.PrivateKey(), P256.Signing.PrivateKey())
        let a = try open("A", key: keyA, ca: ca, in: directory)
        do {
            return (a, try open("B", key: P256.Signing.PrivateKey(), ca: ca, in: directory), keyA, ca)
        } catch {
            a.close()
            throw error
        }
    }

    static func certificate(_ name: String, _ key: P256.Signing.PrivateKey) -> OriginCertificate {
        OriginCertificate(warehouse: rid(name), publicKey: Array(key.publicKey.x963Representation), certificate: Array(name.utf8))
    }

    /// ``pair(in:)`` with A's certificate known to B.
    static func trustingPair(
        in directory: TemporaryDirectory
    ) async throws -> (a: NodeStore, b: NodeStore, keyA: P256.Signing.PrivateKey, ca: P256.Signing.PrivateKey) {
        let stores = try pair(in: directory)
        do {
            _ = try await stores.b.submit(.addOriginCertificates([certificate("A", stores.keyA)]))
        } catch {
            stores.a.close()
            stores.b.close()
            throw error
        }
        return stores
    }

    /// Merges `batch` into `store` as one signed page.
    static func merge(_ batch: ProvenBatch, into store: NodeStore) async throws -> MergeReport {
        guard case .merged(let report) = try await store.submit(.mergeSigned(batch.operations, batch.proofs)) else {
            throw StoreError.storage("outcome")
        }
        return report
    }

    /// Merges into `store` every operation `source` can prove, one operation per page.
    /// - Returns: the operations applied.
    static func mergeOnePerPage(from source: NodeStore, into store: NodeStore) async throws -> Int {
        var cursor = VersionVector()
        var applied = 0
        while true {
            let page = try source.reader.provenRowsMissing(from: cursor, limit: 1)
            guard !page.operations.isEmpty else { return applied }
            applied += try await merge(page, into: store).applied
            for op in page.operations { cursor.advance(op.origin, to: op.sequence) }
        }
    }

    @Test("local writes are signed at each commit and every 1,000 operations; a peer applies them, and equal ledgers follow")
    func signedWritesMerge() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let (a, b, keyA, _) = try Self.pair(in: directory)
        defer {
            a.close()
            b.close()
        }
        try await a.addProduct("SKU-1")
        for _ in 0..<5 { try await a.move(.receive, "SKU-1", 3) }
        #expect(try a.reader.newestHead(of: rid("A"))?.sequence == 6)
        #expect(try a.reader.chainTip(of: rid("A")).sequence == 6)

        // Without A's key, B applies nothing and says why.
        var batch = try a.reader.provenRowsMissing(from: try b.reader.versionVector(), limit: 100)
        #expect(batch.operations.count == 6)
        let unknown = try await Self.merge(batch, into: b)
        #expect(unknown.applied == 0)
        #expect(unknown.unproven.map(\.origin) == ["A"] && unknown.unproven.first?.forgery == false)

        _ = try await b.submit(.addOriginCertificates([Self.certificate("A", keyA)]))
        let report = try await Self.merge(batch, into: b)
        #expect(report.applied == 6 && report.unproven.isEmpty)
        #expect(try b.reader.chainTip(of: rid("A")) == (try a.reader.chainTip(of: rid("A"))))
        // B forwards A's head: a third node could check A's operations from B's page.
        #expect(try b.reader.newestHead(of: rid("A"))?.sequence == 6)

        // A bulk of local writes in one commit is signed every 1,000 operations too, and pages are cut at heads.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<1_200 { group.addTask { _ = try await a.move(.receive, "SKU-1", 1) } }
            try await group.waitForAll()
        }
        batch = try a.reader.provenRowsMissing(from: try b.reader.versionVector(), limit: 500)
        #expect(!batch.operations.isEmpty)
        let last = batch.operations.last!.sequence
        #expect(batch.proofs.heads.map(\.sequence) == [last])
        while !batch.operations.isEmpty {
            let page = try await Self.merge(batch, into: b)
            #expect(page.unproven.isEmpty && page.applied == batch.operations.count)
            batch = try a.reader.provenRowsMissing(from: try b.reader.versionVector(), limit: 500)
        }
        #expect(try b.reader.versionVector()[rid("A")] == 1_206)
        #expect(try b.reader.stock(warehouse: "A", sku: "SKU-1").first?.quantity == 1_215)
    }

    @Test("merges queued one behind the other are applied in that order, whichever outcome is awaited first")
    func queuedMergesKeepTheirOrder() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let (a, b, _, _) = try await Self.trustingPair(in: directory)
        defer {
            a.close()
            b.close()
        }
        try await a.addProduct("SKU-1")
        for _ in 0..<30 { try await a.move(.receive, "SKU-1", 1) }
        // Two pages, the second continuing the first's chain: merged the other way round, it would be beyond a gap.
        let first = try a.reader.provenRowsMissing(from: VersionVector(), limit: 10)
        var cursor = VersionVector()
        cursor.advance(rid("A"), to: try #require(first.operations.last).sequence)
        let second = try a.reader.provenRowsMissing(from: cursor, limit: 100)
        let queuedFirst = try b.queueMerge(encoded: try LedgerOperationCodec.encode(first.operations, proofs: first.proofs))
        let queuedSecond = try b.queueMerge(encoded: try LedgerOperationCodec.encode(second.operations, proofs: second.proofs))
        guard case .merged(let late) = try await queuedSecond.outcome(), case .merged(let early) = try await queuedFirst.outcome()
        else { throw StoreError.storage("outcome") }
        #expect(early.applied == first.operations.count && early.unproven.isEmpty)
        #expect(late.applied == second.operations.count && late.unproven.isEmpty)
        #expect(try b.reader.versionVector()[rid("A")] == 31)
        #expect(try b.reader.stock(warehouse: "A", sku: "SKU-1").first?.quantity == 30)
        // An outcome already known is returned at once, as often as asked.
        guard case .merged = try await queuedFirst.outcome() else { throw StoreError.storage("outcome") }
    }

    @Test("a page that does not decode is refused before it is queued, and changes nothing")
    func undecodablePageIsRefused() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let (a, b, _, _) = try await Self.trustingPair(in: directory)
        defer {
            a.close()
            b.close()
        }
        try await a.addProduct("SKU-1")
        try await a.move(.receive, "SKU-1", 4)
        let batch = try a.reader.provenRowsMissing(from: VersionVector(), limit: 100)
        let encoded = try LedgerOperationCodec.encode(batch.operations, proofs: batch.proofs)
        for broken in [[], [LedgerOperationCodec.version], Array(encoded.dropLast()), encoded + [0], [99] + encoded.dropFirst()] {
            #expect(throws: StoreError.self) { try b.queueMerge(encoded: broken) }
            await #expect(throws: StoreError.self) { try await b.submitMerge(encoded: broken) }
        }
        #expect(try b.reader.versionVector()[rid("A")] == 0)
        // The same page whole is applied: the refusals left the writer and its buffers as they were.
        guard case .merged(let report) = try await b.submitMerge(encoded: encoded) else { throw StoreError.storage("outcome") }
        #expect(report.applied == 2 && report.unproven.isEmpty)
        #expect(try b.reader.stock(warehouse: "A", sku: "SKU-1").first?.quantity == 4)
    }

    @Test("pages merged one after another, each decoded before the writer takes it, give the ledger of one merge")
    func preparedPagesMatchOneMerge() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let (a, b, keyA, ca) = try Self.pair(in: directory)
        let c = try Self.open("C", key: P256.Signing.PrivateKey(), ca: ca, in: directory)
        defer {
            a.close()
            b.close()
            c.close()
        }
        for store in [b, c] { _ = try await store.submit(.addOriginCertificates([Self.certificate("A", keyA)])) }
        for sku in ["SKU-1", "SKU-2", "SKU-3"] { try await a.addProduct(sku) }
        for round in 0..<120 { try await a.move(.receive, ["SKU-1", "SKU-2", "SKU-3"][round % 3], Int64(round % 4 + 1)) }
        // B takes pages of 7 queued ahead of their merges (the buffers of spent pages decoded into again); C one page.
        var cursor = VersionVector()
        var queued: [QueuedWrite] = []
        while true {
            let page = try a.reader.provenRowsMissing(from: cursor, limit: 7)
            guard let last = page.operations.last else { break }
            queued.append(try b.queueMerge(encoded: try LedgerOperationCodec.encode(page.operations, proofs: page.proofs)))
            cursor.advance(rid("A"), to: last.sequence)
        }
        var applied = 0
        for merge in queued {
            guard case .merged(let report) = try await merge.outcome() else { throw StoreError.storage("outcome") }
            applied += report.applied
        }
        let whole = try a.reader.provenRowsMissing(from: VersionVector(), limit: 1_000)
        let once = try await Self.merge(whole, into: c)
        #expect(applied == 123 && once.applied == 123)
        #expect(try b.reader.operations(origin: rid("A"), after: 0, limit: 1_000) == (try c.reader.operations(origin: rid("A"), after: 0, limit: 1_000)))
        #expect(try b.reader.chainTip(of: rid("A")) == (try a.reader.chainTip(of: rid("A"))))
        for sku in ["SKU-1", "SKU-2", "SKU-3"] {
            #expect(try b.reader.stock(warehouse: "A", sku: sku) == (try c.reader.stock(warehouse: "A", sku: sku)))
        }
    }

    @Test("""
        a page whose rows are inserted several per statement, with a deletion amid movements, gives the state of its \
        operations merged one at a time
        """)
    func rowsInsertedInStatementsMatchOneByOne() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let (a, b, keyA, ca) = try Self.pair(in: directory)
        let keyD = P256.Signing.PrivateKey()
        let c = try Self.open("C", key: P256.Signing.PrivateKey(), ca: ca, in: directory)
        let d = try Self.open("D", key: keyD, ca: ca, in: directory)
        let e = try Self.open("E", key: P256.Signing.PrivateKey(), ca: ca, in: directory)
        defer {
            for store in [a, b, c, d, e] { store.close() }
        }
        let certificates = [Self.certificate("A", keyA), Self.certificate("D", keyD)]
        for store in [a, b, c, d, e] { _ = try await store.submit(.addOriginCertificates(certificates)) }
        for sku in ["SKU-1", "SKU-2"] { try await a.addProduct(sku) }
        _ = try await Self.merge(try a.reader.provenRowsMissing(from: VersionVector(), limit: 100), into: d)
        // D receives 10 times into both SKUs, and A sees that; A receives 37 times, deletes SKU-1, and D, unaware,
        // receives 11 more times: D's 6 later receipts of SKU-1 are movements on a deleted product, its 5 earlier ones
        // are not (the deletion's causal context holds them, read from the deletion's row).
        for round in 0..<10 { try await d.move(.receive, ["SKU-1", "SKU-2"][round % 2], Int64(round % 3 + 1)) }
        #expect(try await Self.merge(try d.reader.provenRowsMissing(from: VersionVector(), limit: 1_000, origins: [rid("D")]), into: a).applied == 10)
        for round in 0..<37 { try await a.move(.receive, ["SKU-1", "SKU-2"][round % 2], Int64(round % 5 + 1)) }
        _ = try await a.submit(.deleteProduct(sku: sku("SKU-1"), actor: "t"))
        for round in 10..<21 { try await d.move(.receive, ["SKU-1", "SKU-2"][round % 2], Int64(round % 3 + 1)) }
        _ = try await Self.merge(try a.reader.provenRowsMissing(from: VersionVector(), limit: 1_000, origins: [rid("A")]), into: e)
        _ = try await Self.merge(try d.reader.provenRowsMissing(from: VersionVector(), limit: 1_000, origins: [rid("D")]), into: e)

        // B takes one page of all 61 (A's first, so that D's movements come after the deletion); C one per operation.
        let whole = try e.reader.provenRowsMissing(from: VersionVector(), limit: 1_000)
        #expect(whole.operations.count == 61 && whole.operations.last?.origin == rid("D"))
        let report = try await Self.merge(whole, into: b)
        #expect(report.applied == 61)
        #expect(try await Self.mergeOnePerPage(from: e, into: c) == 61)

        #expect(try b.reader.materializedStateDump() == (try c.reader.materializedStateDump()))
        for origin in ["A", "D"] {
            #expect(try b.reader.operations(origin: rid(origin), after: 0, limit: 100) == (try e.reader.operations(origin: rid(origin), after: 0, limit: 100)))
            #expect(try b.reader.chainTip(of: rid(origin)) == (try e.reader.chainTip(of: rid(origin))))
        }
        let conflicts = try b.reader.conflicts()
        #expect(conflicts.filter { $0.kind == .movementOnDeletedProduct }.count == 6)
        #expect(conflicts == (try c.reader.conflicts()))
    }

    @Test("""
        a page touching 45 stock counters, some with reorder points, merges its counter entries several per \
        statement and gives the stock and alerts of its operations merged one at a time
        """)
    func counterEntriesMergedInStatementsMatchOneByOne() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let (a, b, keyA, ca) = try Self.pair(in: directory)
        let c = try Self.open("C", key: P256.Signing.PrivateKey(), ca: ca, in: directory)
        defer {
            for store in [a, b, c] { store.close() }
        }
        for store in [b, c] { _ = try await store.submit(.addOriginCertificates([Self.certificate("A", keyA)])) }
        // Every fifth SKU has a reorder point of 4: 5 units received, then 2 sold from every third SKU.
        let skus = (0..<45).map { "SKU-\($0)" }
        for (index, code) in skus.enumerated() { _ = try await a.addProduct(code, reorderPoint: index % 5 == 0 ? 4 : nil) }
        for code in skus { try await a.move(.receive, code, 5) }
        for code in skus.enumerated().filter({ $0.offset % 3 == 0 }).map(\.element) { try await a.move(.sell, code, 2) }
        #expect(try a.reader.alerts().count == 3)

        // B: two pages, the second with every movement (45 receipts and 15 sales: 60 counter entries); C: one
        // operation per page.
        let products = try a.reader.provenRowsMissing(from: VersionVector(), limit: 45)
        let first = try await Self.merge(products, into: b)
        let movements = try a.reader.provenRowsMissing(from: try b.reader.versionVector(), limit: 1_000)
        let second = try await Self.merge(movements, into: b)
        #expect(first.applied + second.applied == 105)
        _ = try await Self.mergeOnePerPage(from: a, into: c)
        #expect(try c.reader.versionVector()[rid("A")] == 105)
        #expect(try b.reader.materializedStateDump() == (try c.reader.materializedStateDump()))
        #expect(try b.reader.alerts() == (try c.reader.alerts()))
        #expect(try b.reader.alerts().map(\.sku).sorted() == ["SKU-0", "SKU-15", "SKU-30"])
    }

    @Test("a tampered operation in a forwarded page is not applied, and is reported as a forgery")
    func tamperedPage() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let (a, b, _, _) = try await Self.trustingPair(in: directory)
        defer {
            a.close()
            b.close()
        }
        try await a.addProduct("SKU-1")
        try await a.move(.receive, "SKU-1", 3)
        try await a.move(.sell, "SKU-1", 1)
        let batch = try a.reader.provenRowsMissing(from: VersionVector(), limit: 100)
        var tampered = batch.operations
        tampered[2].counter = PNCounter.Entry(increments: 3, decrements: 0)  // the sale undone
        tampered[2].delta = 0
        let encoded = try LedgerOperationCodec.encode(tampered, proofs: batch.proofs)
        guard case .merged(let report) = try await b.submitMerge(encoded: encoded) else { throw StoreError.storage("outcome") }
        #expect(report.applied == 0)
        #expect(report.unproven.first?.forgery == true)
        #expect(report.unproven.first?.reason.contains("tampered or forged") == true)
        #expect(try b.reader.versionVector()[rid("A")] == 0)
        // The honest page still goes through afterwards.
        let honest = try await Self.merge(batch, into: b)
        #expect(honest.applied == 3)
    }

    @Test("a ledger written before signing is covered by a checkpoint signed with the cluster CA key")
    func legacyLedgerCheckpoint() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let (a, b, _, ca) = try Self.pair(in: directory)
        defer {
            a.close()
            b.close()
        }
        // Operations of a retired warehouse W that never signed, merged as a trusted local batch.
        let legacy = ChainVerifierTests.receipts(rid("W"), count: 25_000)
        _ = try await a.submit(.merge(legacy))
        #expect(try a.reader.provenRowsMissing(from: VersionVector(), limit: 100).operations.isEmpty)
        let marks = try #require(try a.reader.checkpointMarksNeeded())
        #expect(marks[rid("W")]?.map(\.sequence) == [10_000, 20_000, 25_000])
        // Only the CA key's checkpoint is taken.
        await #expect(throws: StoreError.self) {
            try await a.submit(.saveCheckpoint(try ChainCheckpoint.signed(marks: marks, caKey: P256.Signing.PrivateKey())))
        }
        _ = try await a.submit(.saveCheckpoint(try ChainCheckpoint.signed(marks: marks, caKey: ca)))
        #expect(try a.reader.checkpointMarksNeeded() == nil)
        var pages = 0
        while true {
            let batch = try a.reader.provenRowsMissing(from: try b.reader.versionVector(), limit: 12_000)
            if batch.operations.isEmpty { break }
            pages += 1
            #expect(batch.proofs.checkpoint != nil)
            guard case .merged(let report) = try await b.submitMerge(encoded: try LedgerOperationCodec.encode(batch.operations, proofs: batch.proofs))
            else { throw StoreError.storage("outcome") }
            #expect(report.unproven.isEmpty && report.applied == batch.operations.count)
        }
        #expect(pages == 3)
        #expect(try b.reader.versionVector()[rid("W")] == 25_000)
        // B stored the checkpoint: it serves the same operations to a third node.
        #expect(try b.reader.provenRowsMissing(from: VersionVector(), limit: 100_000).operations.count == 25_000)
    }
}

extension ProvenBatch {
    /// The batch's operations, decoded from the rows it would send (rows this store wrote itself: they decode).
    var operations: [LedgerOperation] { try! rows.operations() }
}
