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
    }
}
