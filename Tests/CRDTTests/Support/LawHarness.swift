import CRDT
import Foundation
import PropertyBased
@testable import Store
import Testing

// The shared law harness for every CRDT, after riak_dt's `crdt_statem_eqc`: each CRDT supplies a
// generator of operations, a way to apply an operation on a replica (returning the delta), a sequential
// model and a function from state to model value; the harness generates random histories on 3–5
// replicas and checks the `StateCRDT` laws on the reachable states they produce.
//
// Replicas exchange states in the form the product sends them: as ledger operations (`LedgerOperation`, each
// carrying the delta-state of one write) in a peer-sync page (`LedgerOperationCodec`), merged as the
// applier merges them. The wire laws check that form and the stored row body (`LedgerRowBody`).

/// Who performed an operation, and the timestamp its replica's hybrid logical clock issued for it.
struct OperationContext: Hashable, Sendable {
    let replica: ReplicaID
    let timestamp: HLCTimestamp
}

/// A CRDT under test, described for the law harness.
protocol LawSubject {
    /// The CRDT.
    associatedtype State: StateCRDT
    /// One user-level operation on it.
    associatedtype Operation: Sendable
    /// The sequential model's state: what a single, non-replicated object would hold.
    associatedtype Model: Equatable

    /// The state every replica starts from.
    static var initialState: State { get }
    /// The model before any operation.
    static var initialModel: Model { get }
    /// Random operations.
    static var operations: Generator<Operation, AnySequence<Any>> { get }

    /// Performs `operation` on a replica's state and returns the delta it produced.
    static func apply(_ operation: Operation, to state: inout State, context: OperationContext) throws -> State
    /// Performs `operation` on the sequential model.
    static func model(_ model: inout Model, applying operation: Operation, context: OperationContext)
    /// Maps a (converged) state to the model's terms.
    static func modelValue(of state: State) -> Model
    /// The ledger operations a node sends for `state`: one per write it holds, as the writer records it.
    static func operations(carrying state: State) -> [LedgerOperation]
    /// What a node that receives `operations` merges, as the ledger applier merges them.
    static func state(mergedFrom operations: [LedgerOperation]) -> State
    /// Checks representation invariants with the public API; called after every mutation.
    static func checkInvariants(_ state: State)
}

extension LawSubject {
    static func checkInvariants(_ state: State) {}

    /// `state` as a receiver gets it: its operations through a peer-sync page, merged.
    static func overTheWire(_ state: State) throws -> State {
        let page = try LedgerOperationCodec.encode(operations(carrying: state))
        return Self.state(mergedFrom: try LedgerOperationCodec.decode(page))
    }
}

/// The SKU and warehouse every law operation is about.
let lawSKU = try! SKU("law-sku")
let lawWarehouse = try! ReplicaID("law-warehouse")

/// Numbers each origin's operations 1, 2, 3, … in order, as the writer numbers an origin's ledger entries.
func numbered(_ operations: [LedgerOperation]) -> [LedgerOperation] {
    var last: [ReplicaID: UInt64] = [:]
    return operations.map { op in
        var op = op
        op.sequence = (last[op.origin] ?? 0) + 1
        last[op.origin] = op.sequence
        return op
    }
}

/// The laws every CRDT must satisfy.
enum Law: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case commutative
    case associative
    case idempotent
    case deltaMergeEqualsFullMerge
    case convergesToModel
    case wireRoundTrip
    case refusesUnknownWireVersion

    var testDescription: String { rawValue }
}

/// A random history on a few replicas: local operations and gossip in some interleaving, then a final
/// all-to-all exchange in random order, plus a probe (replica picks and one more operation) for the
/// pairwise laws.
struct Scenario<Operation: Sendable>: Sendable, CustomTestStringConvertible {
    enum Step: Sendable {
        /// The replica's wall clock moves by `clockJump` ms (possibly backwards), then it performs the operation.
        case local(replica: Int, clockJump: Int64, operation: Operation)
        /// `to` merges the full state of `from`.
        case gossip(from: Int, to: Int)
        /// `to` merges the last delta `from` produced (a late, duplicated or reordered message).
        case sendDelta(from: Int, to: Int)
    }

    struct Pair: Sendable {
        let from: Int
        let to: Int
    }

    var replicas: [ReplicaID]
    var startClocks: [UInt64]
    var steps: [Step]
    /// Every ordered pair of distinct replicas once, shuffled.
    var finalRound: [Pair]
    /// Replica indices for the pairwise laws (may coincide).
    var probe: (a: Int, b: Int, c: Int)
    var probeOperation: Operation
    /// A format version no reader of pages or row bodies accepts, for the refusal law.
    var wrongVersion: UInt8

    var testDescription: String {
        "\(replicas.count) replicas \(replicas), \(steps.count) steps"
    }
}

/// Replica IDs the scenarios draw from: mixed case, punctuation and the maximum length, so that the
/// byte-order tie-break is exercised.
let replicaPool: [ReplicaID] = ["a", "B", "shop-1", "shop_2", "z9", "hq", "-", "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"]
    .map { try! ReplicaID($0) }

extension LawSubject {
    /// Random scenarios (deterministic per PropertyBased seed).
    static var scenarios: Generator<Scenario<Operation>, Shrink.None<Scenario<Operation>>> {
        let operations = self.operations
        return Generator { rng in
            let count = Int.random(in: 3...5, using: &rng)
            let replicas = Array(replicaPool.shuffled(using: &rng).prefix(count))
            let startClocks = (0..<count).map { _ in UInt64.random(in: 1_000_000...1_000_005, using: &rng) }
            let stepCount = Int.random(in: 0...40, using: &rng)
            var steps: [Scenario<Operation>.Step] = []
            for _ in 0..<stepCount {
                let kind = Int.random(in: 0..<10, using: &rng)
                let from = Int.random(in: 0..<count, using: &rng)
                let to = Int.random(in: 0..<count, using: &rng)
                switch kind {
                case 0..<6:
                    let jump = Int64.random(in: -5...5, using: &rng)
                    steps.append(.local(replica: from, clockJump: jump, operation: operations.run(using: &rng)))
                case 6..<9:
                    steps.append(.gossip(from: from, to: to))
                default:
                    steps.append(.sendDelta(from: from, to: to))
                }
            }
            var pairs: [Scenario<Operation>.Pair] = []
            for from in 0..<count {
                for to in 0..<count where from != to {
                    pairs.append(.init(from: from, to: to))
                }
            }
            let probe = (
                a: Int.random(in: 0..<count, using: &rng),
                b: Int.random(in: 0..<count, using: &rng),
                c: Int.random(in: 0..<count, using: &rng))
            return Scenario(
                replicas: replicas,
                startClocks: startClocks,
                steps: steps,
                finalRound: pairs.shuffled(using: &rng),
                probe: probe,
                probeOperation: operations.run(using: &rng),
                // Five choices, as before versions were bytes: the pinned seeds replay the same scenarios.
                wrongVersion: [0, 6, 7, 99, 255].randomElement(using: &rng)!)
        }
    }
}

/// One simulated replica: its identity, its own wall clock and HLC, its state and the last delta it produced.
struct SimulatedReplica<Subject: LawSubject> {
    let id: ReplicaID
    let clock: ManualClock
    var hlc: HybridLogicalClock<ManualClock>
    var state: Subject.State
    var lastDelta: Subject.State?

    init(id: ReplicaID, startClock: UInt64) {
        self.id = id
        clock = ManualClock(startClock)
        hlc = HybridLogicalClock(clock: clock)
        state = Subject.initialState
    }

    /// Performs an operation with a fresh timestamp; returns the context used and the delta.
    mutating func perform(_ operation: Subject.Operation, clockJump: Int64) throws
        -> (OperationContext, Subject.State)
    {
        clock.advance(by: clockJump)
        let context = OperationContext(replica: id, timestamp: hlc.now())
        let delta = try Subject.apply(operation, to: &state, context: context)
        lastDelta = delta
        Subject.checkInvariants(state)
        Subject.checkInvariants(delta)
        return (context, delta)
    }

    mutating func receive(_ other: Subject.State) {
        state.merge(other)
        Subject.checkInvariants(state)
    }
}

/// The outcome of running a scenario's steps (not yet its final round).
struct History<Subject: LawSubject> {
    var replicas: [SimulatedReplica<Subject>]
    var model: Subject.Model

    init(_ scenario: Scenario<Subject.Operation>) throws {
        replicas = zip(scenario.replicas, scenario.startClocks).map { SimulatedReplica(id: $0, startClock: $1) }
        model = Subject.initialModel
        for step in scenario.steps {
            switch step {
            case .local(let index, let jump, let operation):
                let (context, _) = try replicas[index].perform(operation, clockJump: jump)
                Subject.model(&model, applying: operation, context: context)
            case .gossip(let from, let to):
                replicas[to].receive(try Subject.overTheWire(replicas[from].state))
            case .sendDelta(let from, let to):
                if let delta = replicas[from].lastDelta {
                    replicas[to].receive(try Subject.overTheWire(delta))
                }
            }
        }
    }

    /// Runs the all-to-all exchange.
    mutating func finish(_ round: [Scenario<Subject.Operation>.Pair]) throws {
        for pair in round {
            replicas[pair.to].receive(try Subject.overTheWire(replicas[pair.from].state))
        }
    }
}

/// The law checks, generic over the subject.
enum Laws<Subject: LawSubject> {
    /// Checks `law` on random scenarios.
    static func check(_ law: Law, count: Int = 150, sourceLocation: SourceLocation = #_sourceLocation) async {
        await propertyCheck(
            count: count,
            input: Subject.scenarios,
            perform: { scenario in try check(law, on: scenario) },
            sourceLocation: sourceLocation)
    }

    /// Replays one scenario from a PropertyBased seed (for pinned regressions).
    static func replay(_ law: Law, seed: String) throws {
        var rng = try #require(Xoshiro(seed: seed))
        try check(law, on: Subject.scenarios.run(using: &rng))
    }

    static func check(_ law: Law, on scenario: Scenario<Subject.Operation>) throws {
        var history = try History<Subject>(scenario)
        let a = history.replicas[scenario.probe.a].state
        let b = history.replicas[scenario.probe.b].state
        let c = history.replicas[scenario.probe.c].state

        switch law {
        case .commutative:
            #expect(a.merged(with: b) == b.merged(with: a))

        case .associative:
            #expect(a.merged(with: b).merged(with: c) == a.merged(with: b.merged(with: c)))

        case .idempotent:
            #expect(a.merged(with: a) == a)
            let ab = a.merged(with: b)
            #expect(ab.merged(with: b) == ab)
            #expect(ab.merged(with: a) == ab)

        case .deltaMergeEqualsFullMerge:
            // B has already merged A's pre-operation state; then A performs one more operation.
            let before = a
            let receiver = b.merged(with: before)
            var replicaA = history.replicas[scenario.probe.a]
            let (_, delta) = try replicaA.perform(scenario.probeOperation, clockJump: 1)
            let after = replicaA.state
            #expect(before.merged(with: delta) == after)
            #expect(receiver.merged(with: delta) == receiver.merged(with: after))
            #expect(receiver.merged(with: try Subject.overTheWire(delta)) == receiver.merged(with: after))
            #expect(delta.merged(with: delta) == delta)

        case .convergesToModel:
            try history.finish(scenario.finalRound)
            let first = history.replicas[0].state
            for replica in history.replicas {
                #expect(replica.state == first, "replica \(replica.id) diverged")
            }
            #expect(Subject.modelValue(of: first) == history.model)

        case .wireRoundTrip:
            for state in history.replicas.map(\.state) + history.replicas.compactMap(\.lastDelta) {
                let operations = Subject.operations(carrying: state)
                #expect(Subject.state(mergedFrom: operations) == state, "the operations carry the whole state")
                let page = try LedgerOperationCodec.decode(LedgerOperationCodec.encode(operations))
                #expect(page == operations)
                #expect(Subject.state(mergedFrom: page) == state)
                for op in operations {
                    let body = try LedgerRowBody.encode(op)
                    #expect(try LedgerRowBody.decode(origin: op.origin, sequence: op.sequence, body: body) == op)
                }
            }

        case .refusesUnknownWireVersion:
            let operations = Subject.operations(carrying: a)
            var page = try LedgerOperationCodec.encode(operations)
            page[0] = scenario.wrongVersion
            #expect(throws: StoreError.self) { try LedgerOperationCodec.decode(page) }
            for op in operations {
                var body = try LedgerRowBody.encode(op)
                body[0] = scenario.wrongVersion
                #expect(throws: (any Error).self) {
                    try LedgerRowBody.decode(origin: op.origin, sequence: op.sequence, body: body)
                }
            }
        }
    }
}
