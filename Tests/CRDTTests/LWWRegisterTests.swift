import CRDT
import Foundation
import PropertyBased
import Store
import Testing

/// A write as the sequential model sees it: the value and the `(timestamp, replica)` that orders it.
struct Write<Value: Equatable & Sendable>: Equatable, Sendable {
    var value: Value
    var timestamp: HLCTimestamp
    var replica: ReplicaID

    init(_ value: Value, _ context: OperationContext) {
        self.value = value
        timestamp = context.timestamp
        replica = context.replica
    }

    /// The sequential model of last-writer-wins: a later write replaces the current one.
    static func record(_ write: Write, into current: inout Write?) {
        if let existing = current,
            existing.timestamp > write.timestamp
                || (existing.timestamp == write.timestamp && existing.replica >= write.replica)
        {
            return
        }
        current = write
    }
}

extension Write where Value: Hashable & Codable {
    init(_ register: LWWRegister<Value>) {
        value = register.value
        timestamp = register.timestamp
        replica = register.replica
    }
}

/// The LWW register under the law harness. Every replica starts from the same genesis write.
enum LWWRegisterSubject: LawSubject {
    static let genesis = LWWRegister(value: "", timestamp: .zero, replica: try! ReplicaID("genesis"))

    static var initialState: LWWRegister<String> { genesis }
    static var initialModel: Write<String>? { Write(genesis) }

    static var operations: Generator<String, AnySequence<Any>> {
        Gen.int(in: 0...5).map { "v\($0)" }.eraseToAny()
    }

    static func apply(_ operation: String, to state: inout LWWRegister<String>, context: OperationContext)
        -> LWWRegister<String>
    {
        let write = LWWRegister(value: operation, timestamp: context.timestamp, replica: context.replica)
        state.merge(write)
        return write
    }

    static func model(_ model: inout Write<String>?, applying operation: String, context: OperationContext) {
        Write.record(Write(operation, context), into: &model)
    }

    static func modelValue(of state: LWWRegister<String>) -> Write<String>? { Write(state) }

    /// The register travels as a product's name: a patch stamped with the write's timestamp and origin.
    static func operations(carrying register: LWWRegister<String>) -> [LedgerOperation] {
        var metadata = ProductMetadata()
        metadata.name = register
        return ProductMetadataSubject.operations(carrying: metadata)
    }

    static func state(mergedFrom operations: [LedgerOperation]) -> LWWRegister<String> {
        ProductMetadataSubject.state(mergedFrom: operations).name.map { genesis.merged(with: $0) } ?? genesis
    }
}

@Suite struct LWWRegisterTests {
    let a = try! ReplicaID("a")
    let b = try! ReplicaID("b")

    @Test(arguments: Law.allCases)
    func laws(_ law: Law) async {
        await Laws<LWWRegisterSubject>.check(law)
    }

    @Test func laterTimestampWins() {
        let old = LWWRegister(value: "old", timestamp: HLCTimestamp(physicalMilliseconds: 5, logical: 9), replica: b)
        let new = LWWRegister(value: "new", timestamp: HLCTimestamp(physicalMilliseconds: 6, logical: 0), replica: a)
        #expect(old.merged(with: new) == new)
        #expect(new.merged(with: old) == new)
        #expect(old.isOrdered(before: new))
    }

    @Test func equalTimestampsBreakTiesByReplica() {
        let stamp = HLCTimestamp(physicalMilliseconds: 5, logical: 0)
        let fromA = LWWRegister(value: "from a", timestamp: stamp, replica: a)
        let fromB = LWWRegister(value: "from b", timestamp: stamp, replica: b)
        #expect(fromA.merged(with: fromB).value == "from b")
        #expect(fromB.merged(with: fromA).value == "from b")
    }

    /// The precondition is violated here on purpose: merge must still be deterministic (keep the receiver).
    @Test func identicalStampsWithDifferentValuesKeepTheReceiver() {
        let stamp = HLCTimestamp(physicalMilliseconds: 5, logical: 0)
        let first = LWWRegister(value: "x", timestamp: stamp, replica: a)
        let second = LWWRegister(value: "y", timestamp: stamp, replica: a)
        #expect(first.merged(with: second) == first)
        #expect(second.merged(with: first) == second)
    }
}
