import CRDT
import Testing

@Suite struct DotTests {
    let a = try! ReplicaID("a")

    @Test func describesItselfAsOriginAndSequence() {
        #expect(Dot(origin: a, sequence: 2).description == "a#2")
    }
}
