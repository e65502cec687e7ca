import CRDT
import Foundation
import PropertyBased
import Testing

@Suite struct ReplicaIDTests {
    @Test(arguments: [
        "a", "Z", "0", "_", "-", "shop-1", "HQ_main", String(repeating: "x", count: 32),
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
    ])
    func accepts(_ raw: String) throws {
        #expect(try ReplicaID(raw).rawValue == raw)
        #expect(try ReplicaID(raw).description == raw)
    }

    @Test(arguments: [
        "", String(repeating: "x", count: 33), " ", "a b", "a.b", "a/b", "a:b", "shop\n", "\u{0}",
        "café",  // non-ASCII letter
        "é",  // one character, two bytes
        "１",  // full-width digit
        "а",  // Cyrillic a
        "👍",
        "e\u{301}",  // decomposed é
    ])
    func refuses(_ raw: String) {
        #expect(throws: CRDTError.invalidReplicaID(raw)) { try ReplicaID(raw) }
        #expect(!ReplicaID.isValid(raw))
    }

    /// Validation agrees with a character-level reference on random strings (mostly valid, some not).
    @Test func validationMatchesReference() async {
        let alphabet = Array("abcXYZ019_- .é/👍")
        let strings = Gen.int(in: 0...(alphabet.count - 1)).map { alphabet[$0] }.array(of: 0...36)
            .map { String($0) }
        await propertyCheck(count: 300, input: strings) { raw in
            let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
            let reference = (1...32).contains(raw.count) && raw.allSatisfy { allowed.contains($0) }
            #expect(ReplicaID.isValid(raw) == reference)
            #expect(((try? ReplicaID(raw)) != nil) == reference)
        }
    }

    @Test func orderIsUTF8ByteOrder() async throws {
        #expect(try ReplicaID("B") < ReplicaID("a"))
        #expect(try ReplicaID("-") < ReplicaID("0"))
        #expect(try ReplicaID("Z") < ReplicaID("_"))
        #expect(try ReplicaID("_") < ReplicaID("a"))
        #expect(try ReplicaID("a") < ReplicaID("a-"))
        let ids = Gen.int(in: 0...(replicaPool.count - 1)).map { replicaPool[$0] }
        await propertyCheck(count: 100, input: ids, ids) { x, y in
            #expect((x < y) == Array(x.rawValue.utf8).lexicographicallyPrecedes(Array(y.rawValue.utf8)))
        }
    }

    @Test func codesAsAPlainString() throws {
        let id = try ReplicaID("shop-1")
        #expect(String(decoding: try JSONEncoder().encode([id]), as: UTF8.self) == #"["shop-1"]"#)
        #expect(try JSONDecoder().decode([ReplicaID].self, from: Data(#"["shop-1"]"#.utf8)) == [id])
    }

    @Test(arguments: [#"[""]"#, #"["a b"]"#, #"["xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]"#, #"["é"]"#])
    func decodingRefusesInvalidIDs(_ json: String) {
        do {
            _ = try JSONDecoder().decode([ReplicaID].self, from: Data(json.utf8))
            Issue.record("decoded an invalid replica ID from \(json)")
        } catch DecodingError.dataCorrupted(let context) {
            #expect(context.underlyingError is CRDTError)
        } catch {
            Issue.record("expected dataCorrupted, got \(error)")
        }
    }
}
