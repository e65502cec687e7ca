import CRDT
import Foundation
import PropertyBased
import Store
import Testing

/// The PN-counter under the law harness; the model is a plain integer.
enum PNCounterSubject: LawSubject {
    enum Operation: Sendable {
        case increment(UInt64)
        case decrement(UInt64)
    }

    static var initialState: PNCounter { PNCounter() }
    static var initialModel: Int64 { 0 }

    static var operations: Generator<Operation, AnySequence<Any>> {
        zip(Gen.bool, Gen<UInt64>.value(in: 1...1_000))
            .map { isIncrement, amount in isIncrement ? Operation.increment(amount) : .decrement(amount) }
            .eraseToAny()
    }

    static func apply(_ operation: Operation, to state: inout PNCounter, context: OperationContext) throws
        -> PNCounter
    {
        switch operation {
        case .increment(let amount): try state.increment(by: amount, replica: context.replica)
        case .decrement(let amount): try state.decrement(by: amount, replica: context.replica)
        }
    }

    static func model(_ model: inout Int64, applying operation: Operation, context: OperationContext) {
        switch operation {
        case .increment(let amount): model += Int64(amount)
        case .decrement(let amount): model -= Int64(amount)
        }
    }

    static func modelValue(of state: PNCounter) -> Int64 { state.value }

    /// A movement carries its origin's whole entry for the SKU and warehouse (``LedgerOperation/counter``).
    static func operations(carrying counter: PNCounter) -> [LedgerOperation] {
        numbered(
            counter.entries.sorted { $0.key < $1.key }.map { replica, entry in
                LedgerOperation(
                    origin: replica, sequence: 1, timestamp: .zero, kind: .adjust, sku: lawSKU, warehouse: lawWarehouse,
                    counter: entry, actor: "law")
            })
    }

    static func state(mergedFrom operations: [LedgerOperation]) -> PNCounter {
        var counter = PNCounter()
        for op in operations {
            if let entry = op.counter { counter.merge(PNCounter(entries: [op.origin: entry])) }
        }
        return counter
    }

    static func checkInvariants(_ state: PNCounter) {
        #expect(state.entries.values.allSatisfy { $0.increments != 0 || $0.decrements != 0 })
    }
}

@Suite struct PNCounterTests {
    let shop = try! ReplicaID("shop")
    let hq = try! ReplicaID("hq")

    @Test(arguments: Law.allCases)
    func laws(_ law: Law) async {
        await Laws<PNCounterSubject>.check(law)
    }

    @Test func startsAtZero() {
        #expect(PNCounter().value == 0)
        #expect(PNCounter().entries.isEmpty)
        #expect(PNCounter().entry(for: shop) == PNCounter.Entry(increments: 0, decrements: 0))
    }

    @Test func incrementAndDecrementReturnTheReplicasEntryAsDelta() throws {
        var counter = PNCounter()
        let first = try counter.increment(by: 10, replica: shop)
        #expect(first == PNCounter(entries: [shop: .init(increments: 10, decrements: 0)]))
        try counter.increment(by: 5, replica: hq)
        let delta = try counter.decrement(by: 3, replica: shop)
        #expect(delta == PNCounter(entries: [shop: .init(increments: 10, decrements: 3)]))
        #expect(counter.value == 12)
        #expect(counter.entry(for: shop) == .init(increments: 10, decrements: 3))
    }

    @Test func zeroAmountIsRefused() throws {
        var counter = PNCounter()
        try counter.increment(by: 1, replica: shop)
        let before = counter
        #expect(throws: CRDTError.invalidAmount(0)) { try counter.increment(by: 0, replica: shop) }
        #expect(throws: CRDTError.invalidAmount(0)) { try counter.decrement(by: 0, replica: shop) }
        #expect(counter == before)
    }

    @Test func overflowIsRefusedAndLeavesTheCounterUnchanged() throws {
        var counter = PNCounter(entries: [shop: .init(increments: .max - 1, decrements: .max)])
        let before = counter
        #expect(throws: CRDTError.counterOverflow) { try counter.increment(by: 2, replica: shop) }
        #expect(throws: CRDTError.counterOverflow) { try counter.decrement(by: 1, replica: shop) }
        #expect(counter == before)
        try counter.increment(by: 1, replica: shop)
        #expect(counter.entry(for: shop).increments == .max)
    }

    @Test func valueIsExactWheneverItFitsInInt64EvenIfSumsDoNot() {
        let counter = PNCounter(entries: [
            shop: .init(increments: .max, decrements: 0),
            hq: .init(increments: 0, decrements: .max - 7),
        ])
        #expect(counter.value == 7)
        #expect(PNCounter(entries: [shop: .init(increments: 0, decrements: 5)]).value == -5)
    }

    /// Merging totals would give max(5, 3) = 5; per-replica merge keeps both replicas' sales.
    @Test func concurrentUpdatesAreNotLost() throws {
        var left = PNCounter()
        var right = PNCounter()
        try left.increment(by: 5, replica: shop)
        try right.increment(by: 3, replica: hq)
        #expect(left.merged(with: right).value == 8)
    }

    @Test func mergeIsPointwiseMaxOfIncrementsAndDecrements() {
        let left = PNCounter(entries: [shop: .init(increments: 10, decrements: 1)])
        let right = PNCounter(entries: [shop: .init(increments: 7, decrements: 4)])
        #expect(left.merged(with: right).entry(for: shop) == .init(increments: 10, decrements: 4))
    }

    @Test func allZeroEntriesAreNotStored() {
        #expect(PNCounter(entries: [shop: .init()]) == PNCounter())
        #expect(PNCounter(entries: [shop: .init()]).entries.isEmpty)
    }
}
