import CRDT
import Store
import Testing

/// What a node takes from membership a peer announces (finding 4 of the security review): with C's certificate, a
/// hello once retired A on A itself, moved A's and D's addresses and added a member with an unusable URL.
@Suite("MemberAnnouncementPolicy: a peer announces its own address, and hints of unknown members; nothing else")
struct MemberAnnouncementPolicyTests {
    static func record(_ warehouse: String, _ url: String, retired: Bool = false, by replica: String = "C") -> MemberRecord {
        MemberRecord(warehouse: warehouse, peerURL: url, retired: retired, timestamp: HLCTimestamp(rawValue: .max >> 1), replica: replica)
    }

    /// What A holds: itself, C and D, and B retired.
    static let known = [
        record("A", "https://a.example:8444", by: "A"), record("B", "https://b.example:8444", retired: true, by: "A"),
        record("C", "https://c.example:8444", by: "A"), record("D", "https://d.example:8444", by: "A"),
    ]

    static func taken(_ announced: [MemberRecord], by announcer: String? = "C") -> [String] {
        MemberAnnouncementPolicy.accepted(announced, announcer: announcer, receiver: "A", known: known).map { "\($0.warehouse) \($0.peerURL)" }
    }

    @Test("the review's attacks: A retired on A, A's URL, D's URL, NEWGUY with a bad URL: none is taken")
    func reviewAttacks() {
        #expect(Self.taken([Self.record("A", "https://a.example:8444", retired: true)]).isEmpty)
        #expect(Self.taken([Self.record("A", "https://evil.example:1")]).isEmpty)
        #expect(Self.taken([Self.record("D", "https://evil.example:1")]).isEmpty)
        #expect(Self.taken([Self.record("D", "https://d.example:8444", retired: true)]).isEmpty)
        #expect(Self.taken([Self.record("NEWGUY", "not a url at all")]).isEmpty)
        // Re-admitting a retired member, even by itself, is not an announcement's to make.
        #expect(Self.taken([Self.record("B", "https://b2.example:8444")], by: "B").isEmpty)
    }

    @Test("a peer's own address is taken from it (and only when authenticated), its own retirement is not")
    func ownAddress() {
        #expect(Self.taken([Self.record("C", "https://c2.example:9000")]) == ["C https://c2.example:9000"])
        #expect(Self.taken([Self.record("C", "https://c.example:8444")]).isEmpty, "unchanged: nothing to write")
        #expect(Self.taken([Self.record("C", "https://c2.example:9000")], by: nil).isEmpty, "a reply is not authenticated")
        #expect(Self.taken([Self.record("C", "https://c2.example:9000", retired: true)]).isEmpty)
        #expect(Self.taken([Self.record("C", "https://c2.example:9000/path")]).isEmpty)
    }

    @Test("an unknown member is a hint (valid URL, not retired), at most maxHints per announcement, first record wins")
    func hints() {
        #expect(Self.taken([Self.record("E", "https://e.example:8444")], by: nil) == ["E https://e.example:8444"])
        #expect(Self.taken([Self.record("E", "https://e.example:8444", retired: true)]).isEmpty)
        #expect(Self.taken([Self.record("bad id!", "https://e.example:8444")]).isEmpty)
        #expect(Self.taken([Self.record("E", "https://e.example:1"), Self.record("E", "https://e.example:2")]) == ["E https://e.example:1"])
        let many = (0..<100).map { Self.record("N\($0)", "https://n\($0).example:8444") }
        #expect(Self.taken(many).count == MemberAnnouncementPolicy.maxHints)
    }

    @Test("peer URLs: exactly https://HOST:PORT", arguments: [
        ("https://10.0.0.2:8444", true), ("https://node-a.example:1", true), ("https://[::1]:8444", true),
        ("https://127.0.0.1:65535", true), ("http://10.0.0.2:8444", false), ("https://10.0.0.2", false),
        ("https://10.0.0.2:0", false), ("https://10.0.0.2:65536", false), ("https://10.0.0.2:8444/", false),
        ("https://10.0.0.2:8444/x", false), ("https://10.0.0.2:8444?q", false), ("https://u@10.0.0.2:8444", false),
        ("https://10.0.0.2:8444#f", false), ("not a url at all", false), ("", false), ("https://:8444", false),
        ("https://a b:8444", false),
    ])
    func peerURLs(_ url: String, _ valid: Bool) {
        #expect(PeerURL.isValid(url) == valid, "\(url)")
    }
}
