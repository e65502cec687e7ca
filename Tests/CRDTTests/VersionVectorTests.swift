import CRDT
import Foundation
import PropertyBased
import Store
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

    /// A vector travels as a product operation's causal context (``LedgerOperation/context``).
    static func operations(carrying vector: VersionVector) -> [LedgerOperation] {
        [
            LedgerOperation(
                origin: lawWarehouse, sequence: 1, timestamp: .zero, kind: .productUpdate, sku: lawSKU,
                product: ProductPatch(), actor: "law", context: vector)
        ]
    }

    static func state(mergedFrom operations: [LedgerOperation]) -> VersionVector {
        operations.reduce(VersionVector()) { $0.merged(with: $1.context ?? VersionVector()) }
    }
}

@Suite struct VersionVectorTests {
    let a = try! ReplicaID("a")
    let b = try! ReplicaID("b")

    @Test(arguments: Law.allCases)
    func laws(_ law: Law) async {
        await Laws<VersionVectorSubject>.check(law)
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
