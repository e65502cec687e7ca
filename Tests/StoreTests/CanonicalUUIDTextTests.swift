import Foundation
import PropertyBased
@testable import Store
import Testing

@Suite("Canonical UUID text <-> 16 bytes")
struct CanonicalUUIDTextTests {
    @Test("every canonical id survives bytes and back, matching Foundation's text")
    func roundTrip() async {
        await propertyCheck(count: 500, input: Gen.int(in: 0...255).map { UInt8($0) }.array(of: 16...16)) { raw in
            let uuid = UUID(uuid: (raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7], raw[8], raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15]))
            let text = uuid.uuidString.lowercased()
            #expect(CanonicalUUIDText.text(raw) == text)
            #expect(CanonicalUUIDText.bytes(text) == raw)
        }
    }

    @Test("anything but a canonical lowercase id is refused", arguments: [
        "", "not-a-uuid", "0F0E0D0C-0B0A-0908-0706-050403020100", "0f0e0d0c0b0a090807060504030201000000",
        "0f0e0d0c-0b0a-0908-0706-05040302010", "0f0e0d0c-0b0a-0908-0706-0504030201000", "0f0e0d0c-0b0a-0908-0706_050403020100",
        "0f0e0d0c-0b0a-0908-0706-05040302010g", "{f0e0d0c-0b0a-0908-0706-050403020100",
    ])
    func refusals(text: String) {
        #expect(CanonicalUUIDText.bytes(text) == nil)
        #expect(!MovementID.isValid(text))
    }

    @Test("a movement id is valid exactly when Foundation's canonical form gives it back unchanged")
    func validityMatchesFoundation() async {
        let alphabet = Array("0123456789abcdefABCDEF-g{ ")
        let texts = Gen.int(in: 0...(alphabet.count - 1)).map { alphabet[$0] }.array(of: 34...38).map { String($0) }
        let canonical = Gen.int(in: 0...255).map { UInt8($0) }.array(of: 16...16).map { CanonicalUUIDText.text($0) }
        await propertyCheck(count: 500, input: texts, canonical) { text, id in
            #expect(MovementID.isValid(text) == (MovementID.canonical(text) == text))
            #expect(MovementID.isValid(id))
            #expect(!MovementID.isValid(id.uppercased()) || id == id.uppercased())
        }
    }
}

@Suite("Generated movement ids")
struct MovementIDTests {
    @Test("version-7 ids are valid canonical UUIDs, carry their millisecond, and sort by time")
    func versionSeven() {
        var generator = SystemRandomNumberGenerator()
        var previous = ""
        for step in UInt64(0)..<200 {
            let milliseconds = 1_790_000_000_000 + step * 7
            let id = MovementID.generate(milliseconds: milliseconds, using: &generator)
            #expect(MovementID.isValid(id))
            let bytes = CanonicalUUIDText.bytes(id) ?? []
            #expect(bytes.count == 16)
            #expect(bytes.prefix(6).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } == milliseconds)
            #expect(bytes[6] >> 4 == 7)
            #expect(bytes[8] >> 6 == 0b10)
            #expect(id > previous)
            previous = id
        }
    }
}
