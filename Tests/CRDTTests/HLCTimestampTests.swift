import CRDT
import Foundation
import PropertyBased
import Testing

@Suite struct HLCTimestampTests {
    @Test func packsPhysicalAboveLogical() {
        let stamp = HLCTimestamp(physicalMilliseconds: 0x1234_5678_9ABC, logical: 0xDEF0)
        #expect(stamp.rawValue == 0x1234_5678_9ABC_DEF0)
        #expect(stamp.physicalMilliseconds == 0x1234_5678_9ABC)
        #expect(stamp.logical == 0xDEF0)
        #expect(HLCTimestamp(rawValue: stamp.rawValue) == stamp)
        #expect(HLCTimestamp.zero.rawValue == 0)
    }

    /// Raw-value order is the lexicographic order of (physical, logical), and the parts round-trip.
    @Test func orderIsPhysicalThenLogical() async {
        let parts = zip(Gen<UInt64>.value(in: 0...HLCTimestamp.maxPhysicalMilliseconds), Gen<UInt16>.value())
        await propertyCheck(count: 200, input: parts, parts) { left, right in
            let x = HLCTimestamp(physicalMilliseconds: left.0, logical: left.1)
            let y = HLCTimestamp(physicalMilliseconds: right.0, logical: right.1)
            #expect((x.physicalMilliseconds, x.logical) == left)
            #expect((x < y) == ((left.0, left.1) < (right.0, right.1)))
            #expect((x == y) == (left == right))
        }
    }

    @Test func successorCarriesAndStopsAtMax() {
        #expect(
            HLCTimestamp(physicalMilliseconds: 1, logical: .max).successor
                == HLCTimestamp(physicalMilliseconds: 2, logical: 0))
        #expect(HLCTimestamp.max.successor == nil)
    }

    @Test func encodesAsASingleNumber() throws {
        let stamp = HLCTimestamp(physicalMilliseconds: 3, logical: 4)
        #expect(String(decoding: try JSONEncoder().encode([stamp]), as: UTF8.self) == "[196612]")
        #expect(try JSONDecoder().decode([HLCTimestamp].self, from: Data("[196612]".utf8)) == [stamp])
    }

    @Test func description() {
        #expect(HLCTimestamp(physicalMilliseconds: 1_718_000_000_000, logical: 3).description == "1718000000000:3")
    }
}
