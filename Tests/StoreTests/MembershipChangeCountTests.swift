import Store
import Testing

/// The writer counts the commits that changed a member, so that whoever watches the membership reads it only then.
@Suite("The writer counts commits that changed the membership, and no others")
struct MembershipChangeCountTests {
    @Test func onlyACommitThatChangedAMemberCounts() async throws {
        try await withStore { store, _ in
            let start = store.writer.membershipChangeCount
            try await store.addMember("SEV")
            #expect(store.writer.membershipChangeCount == start + 1)

            // Movements change no member, nor does an announcement of members known already.
            try await store.addProduct("A")
            try await store.move(.receive, "A", 5)
            let outcome = try await store.submit(.announcedMembers(by: nil, try store.reader.members()))
            guard case .members(let changed) = outcome else { throw StoreError.storage("unexpected outcome \(outcome)") }
            #expect(changed.isEmpty)
            #expect(store.writer.membershipChangeCount == start + 1)

            // Retiring it does.
            try await store.addMember("SEV", retired: true)
            #expect(store.writer.membershipChangeCount == start + 2)
            #expect(try store.reader.members().first { $0.warehouse == "SEV" }?.retired == true)
        }
    }
}
