import CRDT
import Foundation
import Store
import Testing

/// Rules checked on local writes only: a local command breaking one is refused, while a merged operation that
/// breaks it is still merged (refusing it would make the nodes that took it and those that did not diverge).
@Suite("Local-only rules: bidi controls, reorder overrides of members, unique token names")
struct LocalRulesTests {
    static let bidi: [Character] = ["\u{202A}", "\u{202B}", "\u{202C}", "\u{202D}", "\u{202E}", "\u{2066}", "\u{2067}",
                                     "\u{2068}", "\u{2069}", "\u{200E}", "\u{200F}", "\u{061C}"]

    @Test("every bidi control is refused in a local name, description, reason, reference and token name")
    func bidiControlsAreRefusedLocally() async throws {
        try await withStore { store, _ in
            try await store.addProduct("A")
            for control in Self.bidi {
                let text = "exe\(control)gpj"
                await #expect(throws: StoreError.self) { try await store.addProduct("B", name: text) }
                await #expect(throws: StoreError.self) {
                    _ = try await store.submit(.updateProduct(sku: sku("A"), ProductPatch(description: text), actor: "t"))
                }
                await #expect(throws: StoreError.self) { try await store.move(.receive, "A", 1, reason: text) }
                await #expect(throws: StoreError.self) {
                    _ = try await store.submit(.createToken(TokenRecord(
                        id: "t1", name: text, role: .staff, secretHash: String(repeating: "a", count: 64), createdAt: 1)))
                }
            }
            do {
                try await store.addProduct("C", name: "gpj\u{202E}exe")
                Issue.record("a name with U+202E was accepted")
            } catch {
                #expect("\(error)".contains("bidirectional control characters"), "\(error)")
            }
            #expect(try store.reader.operationCount() == 1)
            // Arabic and Hebrew text itself is fine: only the invisible controls are refused.
            try await store.addProduct("D", name: "מוצר منتج")
        }
    }

    @Test("a merged product whose name holds U+202E, and a merged override for a warehouse not known here, are merged")
    func mergesAreNotRefusedForLocalRules() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanup() }
        let sev = try openStore("SEV", in: directory)
        defer { sev.close() }
        try await sev.addMember("ZZZ")
        try await sev.addProduct("A", name: "Clean")
        _ = try await sev.submit(.setReorderOverride(sku: sku("A"), warehouse: rid("ZZZ"), reorderPoint: 4, actor: "t"))
        var operations = try sev.reader.operations(origin: rid("SEV"), after: 0, limit: 10)
        #expect(operations.count == 2)
        operations[0].product?.name = "gpj\u{202E}exe"

        let mad = try openStore("MAD", in: directory)
        defer { mad.close() }
        guard case .merged(let report) = try await mad.submit(.merge(operations)) else {
            Issue.record("not merged")
            return
        }
        #expect(report.applied == 2 && report.refused.isEmpty, "\(report)")
        #expect(try mad.reader.product(sku("A"))?.name == "gpj\u{202E}exe")
        #expect(try mad.reader.reorderOverrides(sku: "A").map(\.warehouse) == ["ZZZ"])
        // The same override written locally at MAD, which does not know ZZZ, is refused.
        await #expect(throws: StoreError.unknownWarehouse("ZZZ")) {
            _ = try await mad.submit(.setReorderOverride(sku: sku("A"), warehouse: rid("ZZZ"), reorderPoint: 5, actor: "t"))
        }
        try await mad.addMember("ZZZ", retired: true)
        await #expect(throws: StoreError.retiredWarehouse("ZZZ")) {
            _ = try await mad.submit(.setReorderOverride(sku: sku("A"), warehouse: rid("ZZZ"), reorderPoint: 5, actor: "t"))
        }
        // Its own warehouse needs no membership record.
        _ = try await mad.submit(.setReorderOverride(sku: sku("A"), warehouse: rid("MAD"), reorderPoint: 5, actor: "t"))
    }

    @Test("token names are unique among live tokens; a revoked token's name may be used again")
    func tokenNamesAreUnique() async throws {
        try await withStore { store, _ in
            func token(_ id: String, _ name: String) -> WriteCommand {
                .createToken(TokenRecord(id: id, name: name, role: .staff, secretHash: String(repeating: "a", count: 64), createdAt: 1))
            }
            _ = try await store.submit(token("t1", "till"))
            await #expect(throws: StoreError.tokenNameTaken("till")) { _ = try await store.submit(token("t2", "till")) }
            _ = try await store.submit(.revokeToken(id: "t1", atMilliseconds: 2))
            _ = try await store.submit(token("t3", "till"))
            #expect(try store.reader.tokens().map(\.id).sorted() == ["t1", "t3"])
        }
    }
}
