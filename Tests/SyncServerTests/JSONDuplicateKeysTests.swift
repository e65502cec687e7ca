import Foundation
import PropertyBased
@testable import SyncServer
import Testing

/// ``JSONDuplicateKeys``: a key twice in one object is found, however it is written; anything else is not.
@Suite("Duplicate keys in JSON bodies")
struct JSONDuplicateKeysTests {
    static func duplicate(_ json: String) -> String? { JSONDuplicateKeys.first(in: Array(json.utf8)) }

    @Test func duplicatesAreFound() {
        #expect(Self.duplicate(#"{"quantity":1000000,"quantity":1}"#) == "quantity")
        #expect(Self.duplicate(#"{"qu\u0061ntity":1,"quantity":1}"#) == "quantity")
        #expect(Self.duplicate(#"{"a":{"b":1,"b":2}}"#) == "b")
        #expect(Self.duplicate(#"[{"a":1},{"c":[{"x":1,"y":{"z":0},"x":2}]}]"#) == "x")
        #expect(Self.duplicate(#"{"\ud83d\ude00":1,"😀":2}"#) == "😀")
        #expect(Self.duplicate(#"{"a\"b":1,"a\u0022b":2}"#) == "a\"b")
        #expect(Self.duplicate(#"{"a":"}","b":"{\"a\":1","a":2}"#) == "a")
    }

    @Test func distinctKeysAreNotDuplicates() {
        for json in [
            #"{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}"#, #"{"a":"a","b":"a"}"#, #"["a","a"]"#, #"{}"#, "", "1",
            #"{"a\\":1,"a":2}"#, #"{"A":1,"a":2}"#, #"{"a":{"x":1},"b":{"x":1}}"#,
        ] {
            #expect(Self.duplicate(json) == nil, "\(json)")
        }
    }

    @Test("malformed and truncated bodies never crash the scan")
    func malformedInputIsScannedSafely() async {
        let samples = [#"{"a":1,"a""#, #"}}}]]"#, #"{"\u12"#, #"{"a\"#, #"[[[[{"#, #"{"a":1,,"a":2}"#]
        for sample in samples { _ = Self.duplicate(sample) }
        await propertyCheck(count: 2_000, input: Gen.int(in: 0...255).map { UInt8($0) }.array(of: 0...64)) { bytes in
            _ = JSONDuplicateKeys.first(in: bytes)
        }
    }

    @Test("objects from JSONSerialization (unique keys by construction) have no duplicate")
    func serializedObjectsHaveNone() async throws {
        let key = Gen.int(in: 0...5).map { ["a", "b", "é", "\"", "\\", "\u{1F600}"][$0] }.array(of: 1...3).map { $0.joined() }
        await propertyCheck(count: 500, input: key.array(of: 0...8)) { keys in
            let object = Dictionary(keys.map { ($0, 1) }, uniquingKeysWith: { a, _ in a })
            let data = try JSONSerialization.data(withJSONObject: ["outer": object, "list": [object, object]])
            #expect(JSONDuplicateKeys.first(in: Array(data)) == nil)
        }
    }
}
