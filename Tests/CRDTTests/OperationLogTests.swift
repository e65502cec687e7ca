import CRDT
import Foundation
import PropertyBased
import Testing

/// The operation log under the law harness. The model is, per origin, the list of operations in the
/// order that origin appended them.
enum OperationLogSubject: LawSubject {
    static var initialState: OperationLog<String> { OperationLog() }
    static var initialModel: [ReplicaID: [String]] { [:] }

    static var operations: Generator<String, AnySequence<Any>> {
        Gen.int(in: 0...99).map { "sale \($0)" }.eraseToAny()
    }

    static func apply(_ operation: String, to state: inout OperationLog<String>, context: OperationContext)
        -> OperationLog<String>
    {
        state.append(operation, origin: context.replica)
    }

    static func model(_ model: inout [ReplicaID: [String]], applying operation: String, context: OperationContext) {
        model[context.replica, default: []].append(operation)
    }

    static func modelValue(of state: OperationLog<String>) -> [ReplicaID: [String]] {
        var result: [ReplicaID: [String]] = [:]
        for (dot, operation) in state.sortedOperations {
            #expect(dot.sequence == UInt64(result[dot.origin, default: []].count + 1), "gap before \(dot)")
            result[dot.origin, default: []].append(operation)
        }
        return result
    }

    /// The maintained version vector and highest sequences match a recomputation from the operations.
    static func checkInvariants(_ state: OperationLog<String>) {
        var contiguous: [ReplicaID: UInt64] = [:]
        var highest: [ReplicaID: UInt64] = [:]
        for dot in state.operations.keys.sorted() {
            #expect(dot.sequence >= 1)
            if dot.sequence == contiguous[dot.origin, default: 0] + 1 {
                contiguous[dot.origin] = dot.sequence
            }
            highest[dot.origin] = max(highest[dot.origin, default: 0], dot.sequence)
        }
        #expect(state.versionVector == VersionVector(contiguous))
        for (origin, sequence) in highest {
            #expect(state.highestSequence(of: origin) == sequence)
        }
        #expect(state.count == state.operations.count)
    }
}

@Suite struct OperationLogTests {
    let a = try! ReplicaID("a")
    let b = try! ReplicaID("b")

    @Test(arguments: Law.allCases)
    func laws(_ law: Law) async {
        await Laws<OperationLogSubject>.check(law)
    }

    /// Anti-entropy: sending `delta(since: receiver.versionVector)` is as good as sending the full log,
    /// and holds nothing the vector covers.
    @Test func deltaSinceVersionVectorEqualsFullMerge() async {
        await propertyCheck(count: 150, input: OperationLogSubject.scenarios) { scenario in
            try Self.checkDeltaSinceVersionVector(scenario)
        }
    }

    static func checkDeltaSinceVersionVector(_ scenario: Scenario<String>) throws {
        let history = try History<OperationLogSubject>(scenario)
        let sender = history.replicas[scenario.probe.a].state
        let receiver = history.replicas[scenario.probe.b].state
        let delta = sender.delta(since: receiver.versionVector)
        #expect(receiver.merged(with: delta) == receiver.merged(with: sender))
        #expect(delta.operations.keys.allSatisfy { !receiver.versionVector.contains($0) })
        #expect(delta.operations.allSatisfy { sender.operations[$0.key] == $0.value })
        #expect(sender.delta(since: sender.versionVector).operations.keys.allSatisfy {
            $0.sequence > sender.versionVector[$0.origin]
        })
    }

    @Test func appendNumbersEachOriginFromOne() {
        var log = OperationLog<String>()
        let first = log.append("x", origin: a)
        log.append("y", origin: b)
        log.append("z", origin: a)
        #expect(first.operations == [Dot(origin: a, sequence: 1): "x"])
        #expect(log.operations[Dot(origin: a, sequence: 2)] == "z")
        #expect(log.versionVector == VersionVector([a: 2, b: 1]))
    }

    @Test func versionVectorStopsAtAGapAndCatchesUpWhenItFills() {
        var log = OperationLog<String>()
        log.insert("one", at: Dot(origin: a, sequence: 1))
        log.insert("three", at: Dot(origin: a, sequence: 3))
        #expect(log.versionVector[a] == 1)
        #expect(log.highestSequence(of: a) == 3)
        #expect(log.delta(since: log.versionVector).operations.keys.sorted() == [Dot(origin: a, sequence: 3)])
        log.insert("two", at: Dot(origin: a, sequence: 2))
        #expect(log.versionVector[a] == 3)
        // Appending continues after the highest sequence, not the contiguous one.
        var gappy = OperationLog<String>()
        gappy.insert("three", at: Dot(origin: a, sequence: 3))
        gappy.append("four", origin: a)
        #expect(gappy.operations[Dot(origin: a, sequence: 4)] == "four")
    }

    @Test func insertingAKnownDotKeepsTheExistingOperation() {
        var log = OperationLog<String>()
        log.append("x", origin: a)
        log.insert("other", at: Dot(origin: a, sequence: 1))
        #expect(log.operations[Dot(origin: a, sequence: 1)] == "x")
    }

    @Test func encodesAsAnArraySortedByDot() throws {
        var log = OperationLog<String>()
        log.append("b1", origin: b)
        log.append("a1", origin: a)
        log.append("a2", origin: a)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(log), as: UTF8.self)
        #expect(
            json == #"[{"operation":"a1","origin":"a","sequence":1},{"operation":"a2","origin":"a","sequence":2},"#
                + #"{"operation":"b1","origin":"b","sequence":1}]"#)
    }

    @Test func decodingRejectsCorruptLogs() {
        let zero = Data(#"[{"operation":"x","origin":"a","sequence":0}]"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(OperationLog<String>.self, from: zero) }
        let conflicting = Data(
            #"[{"operation":"x","origin":"a","sequence":1},{"operation":"y","origin":"a","sequence":1}]"#.utf8)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(OperationLog<String>.self, from: conflicting)
        }
        let badOrigin = Data(#"[{"operation":"x","origin":"a b","sequence":1}]"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(OperationLog<String>.self, from: badOrigin) }
    }

    @Test func initFromOperationsRebuildsTheVersionVector() {
        let log = OperationLog(operations: [
            Dot(origin: a, sequence: 2): "a2", Dot(origin: a, sequence: 1): "a1", Dot(origin: b, sequence: 2): "b2",
        ])
        #expect(log.versionVector == VersionVector([a: 2]))
        #expect(log.highestSequence(of: b) == 2)
    }
}
