import CRDT
import Foundation
import Testing

@Suite struct WireEnvelopeTests {
    @Test func writesTheVersionNextToThePayload() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let vector = VersionVector([try ReplicaID("a"): 2])
        #expect(
            String(decoding: try encoder.encode(WireEnvelope(vector)), as: UTF8.self)
                == #"{"payload":{"a":2},"v":1}"#)
        #expect(WireEnvelope<VersionVector>.version == 1)
    }

    /// The refusal is thrown as `CRDTError` itself, not wrapped, and before the payload is read.
    @Test(arguments: [0, 2, -1, 1_000])
    func refusesOtherVersions(_ version: Int) {
        let json = Data(#"{"v":\#(version),"payload":"not even a vector"}"#.utf8)
        #expect(throws: CRDTError.unsupportedFormatVersion(version)) {
            try JSONDecoder().decode(WireEnvelope<VersionVector>.self, from: json)
        }
    }

    @Test func refusesAMissingVersion() {
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(WireEnvelope<VersionVector>.self, from: Data(#"{"payload":{}}"#.utf8))
        }
    }
}

@Suite struct CRDTErrorTests {
    @Test func messagesAreReadable() throws {
        #expect(
            CRDTError.invalidReplicaID("a b").description
                == #"invalid replica ID "a b": must be 1 to 32 characters of A-Z, a-z, 0-9, '_' or '-'"#)
        #expect(
            CRDTError.clockDrift(
                remote: HLCTimestamp(physicalMilliseconds: 70_000, logical: 1),
                localPhysicalMilliseconds: 1_000, maxOffsetMilliseconds: 60_000
            ).description
                == "clock drift: remote timestamp 70000:1 is 69000 ms ahead of the local clock (1000 ms), "
                + "more than the allowed 60000 ms")
        #expect(CRDTError.unsupportedFormatVersion(7).description == "unsupported wire format version 7")
        #expect(CRDTError.counterOverflow.description.hasPrefix("counter overflow"))
        #expect(CRDTError.invalidAmount(0).description.contains("at least 1"))
        #expect(CRDTError.invalidReplicaID(String(repeating: "x", count: 100)).description.contains("…"))
    }
}
