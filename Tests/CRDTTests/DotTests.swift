import CRDT
import Foundation
import Testing

@Suite struct DotTests {
    let a = try! ReplicaID("a")
    let b = try! ReplicaID("b")

    @Test func orderIsOriginThenSequence() {
        #expect(Dot(origin: a, sequence: 9) < Dot(origin: b, sequence: 1))
        #expect(Dot(origin: a, sequence: 1) < Dot(origin: a, sequence: 2))
        #expect(Dot(origin: a, sequence: 2).description == "a#2")
    }

    @Test func codesAsOriginAndSequence() throws {
        let dot = Dot(origin: a, sequence: 3)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(dot), as: UTF8.self) == #"{"origin":"a","sequence":3}"#)
        #expect(try JSONDecoder().decode(Dot.self, from: try encoder.encode(dot)) == dot)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Dot.self, from: Data(#"{"origin":"a","sequence":0}"#.utf8))
        }
    }
}
