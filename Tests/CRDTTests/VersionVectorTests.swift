import CRDT
import Foundation
import PropertyBased
import Testing

/// The version vector under the law harness: any replica may advance any origin's entry; the model is
/// the pointwise maximum over a plain dictionary.
enum VersionVectorSubject: LawSubject {
    struct Advance: Sendable {
        let replica: ReplicaID
        let sequence: UInt64
    }

    static var initialState: VersionVector { VersionVector() }
    static var initialModel: [ReplicaID: UInt64] { [:] }

    static var operations: Generator<Advance, AnySequence<Any>> {
        zip(Gen.int(in: 0...(replicaPool.count - 1)), Gen<UInt64>.value(in: 0...30))
            .map { index, sequence in Advance(replica: replicaPool[index], sequence: sequence) }
            .eraseToAny()
    }

    static func apply(_ operation: Advance, to state: inout VersionVector, context: OperationContext)
        -> VersionVector
    {
        state.advance(operation.replica, to: operation.sequence)
        return VersionVector([operation.replica: operation.sequence])
    }

    static func model(_ model: inout [ReplicaID: UInt64], applying operation: Advance, context: OperationContext) {
        if operation.sequence > model[operation.replica, default: 0] {
            model[operation.replica] = operation.sequence
        }
    }

    static func modelValue(of state: VersionVector) -> [ReplicaID: UInt64] { state.entries }

    static func checkInvariants(_ state: VersionVector) {
        #expect(!state.entries.values.contains(0))
    }
}

@Suite struct VersionVectorTests {
    let a = try! ReplicaID("a")
    let b = try! ReplicaID("b")

    @Test(arguments: Law.allCases)
    func laws(_ law: Law) async {
        await Laws<VersionVectorSubject>.check(law)
    }

    /// `compare` is the partial order whose least upper bound `merge` computes, and it is antisymmetric.
    @Test func compareAgreesWithMerge() async {
        await propertyCheck(count: 150, input: VersionVectorSubject.scenarios) { scenario in
            let history = try History<VersionVectorSubject>(scenario)
            let x = history.replicas[scenario.probe.a].state
            let y = history.replicas[scenario.probe.b].state
            let join = x.merged(with: y)
            #expect([.before, .equal].contains(x.compare(join)))
            #expect([.before, .equal].contains(y.compare(join)))
            #expect((x.compare(y) == .equal) == (x == y))
            let mirrored: [CausalOrder: CausalOrder] = [
                .before: .after, .after: .before, .equal: .equal, .concurrent: .concurrent,
            ]
            #expect(y.compare(x) == mirrored[x.compare(y)])
            if x.compare(y) == .before || x.compare(y) == .equal {
                #expect(join == y)
            }
        }
    }

    @Test func zeroEntriesAreNeverStored() {
        #expect(VersionVector([a: 0]) == VersionVector())
        #expect(VersionVector([a: 0]).entries.isEmpty)
        var vector = VersionVector()
        vector.advance(a, to: 0)
        #expect(vector.isEmpty)
    }

    @Test func advanceNeverLowers() {
        var vector = VersionVector([a: 5])
        vector.advance(a, to: 3)
        #expect(vector[a] == 5)
        vector.advance(a, to: 7)
        #expect(vector[a] == 7)
        #expect(vector[b] == 0)
    }

    @Test func containsCoversTheContiguousPrefix() {
        let vector = VersionVector([a: 3])
        #expect(vector.contains(Dot(origin: a, sequence: 1)))
        #expect(vector.contains(Dot(origin: a, sequence: 3)))
        #expect(!vector.contains(Dot(origin: a, sequence: 4)))
        #expect(!vector.contains(Dot(origin: b, sequence: 1)))
    }

    @Test func compareCases() {
        #expect(VersionVector().compare(VersionVector()) == .equal)
        #expect(VersionVector([a: 1]).compare(VersionVector([a: 2])) == .before)
        #expect(VersionVector([a: 2]).compare(VersionVector([a: 1])) == .after)
        #expect(VersionVector([a: 1]).compare(VersionVector([b: 1])) == .concurrent)
        #expect(VersionVector().compare(VersionVector([b: 1])) == .before)
        #expect(VersionVector([a: 2, b: 1]).compare(VersionVector([a: 1, b: 2])) == .concurrent)
    }

    @Test func encodesAsAPlainObject() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(VersionVector([a: 3, b: 1])), as: UTF8.self)
        #expect(json == #"{"a":3,"b":1}"#)
        let decoded = try JSONDecoder().decode(VersionVector.self, from: Data(#"{"a":3,"b":0}"#.utf8))
        #expect(decoded == VersionVector([a: 3]))
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(VersionVector.self, from: Data(#"{"":1}"#.utf8))
        }
    }
}
