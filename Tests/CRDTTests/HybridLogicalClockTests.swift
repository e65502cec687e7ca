import CRDT
import PropertyBased
import Testing

/// Something that happens to a replica's clock in a random history.
enum ClockEvent: Sendable {
    /// The wall clock jumps (backwards when negative).
    case jump(Int64)
    /// A local event is stamped.
    case now
    /// A message arrives whose timestamp is `offset` ms from the current wall clock.
    case receive(offset: Int64, logical: UInt16)
}

/// A random clock history: starting wall time, tolerated drift, a persisted `last`, and events.
struct ClockHistory: Sendable {
    var start: UInt64
    var maxOffset: UInt64
    var initialLast: HLCTimestamp
    var events: [ClockEvent]
}

let clockHistories = zip(
    Gen<UInt64>.value(in: 0...10_000_000),
    Gen<UInt64>.value(in: 0...70_000),
    zip(Gen<UInt64>.value(in: 0...1_000), Gen<UInt16>.value(in: 0...1_000)),
    zip(
        Gen.int(in: 0...2),
        Gen<Int64>.value(in: -5_000...5_000),
        Gen<Int64>.value(in: -150_000...150_000),
        Gen<UInt16>.value(in: 0...1_000)
    )
    .map { kind, jump, offset, logical -> ClockEvent in
        switch kind {
        case 0: .jump(jump)
        case 1: .now
        default: .receive(offset: offset, logical: logical)
        }
    }
    .array(of: 1...200)
)
.map { start, maxOffset, last, events in
    // The persisted `last` lies at most `maxOffset` ahead of the starting wall clock (it satisfied the bound).
    let lastPhysical = (start + maxOffset) * last.0 / 1_000
    return ClockHistory(
        start: start,
        maxOffset: maxOffset,
        initialLast: HLCTimestamp(physicalMilliseconds: lastPhysical, logical: last.1),
        events: events)
}

@Suite struct HybridLogicalClockTests {
    /// Strictly monotonic, ahead of every accepted remote, within the drift bound, and a refusal changes nothing;
    /// `check` agrees with `receive`.
    @Test func invariantsHoldUnderRandomHistories() async {
        await propertyCheck(count: 300, input: clockHistories) { history in
            Self.check(history)
        }
    }

    /// Replays `history` on a fresh clock and checks every invariant after each event.
    static func check(_ history: ClockHistory) {
        let clock = ManualClock(history.start)
        var hlc = HybridLogicalClock(
            clock: clock, maxOffsetMilliseconds: history.maxOffset, last: history.initialLast)
        var previous = history.initialLast
        var maxWall = history.start
        var maxAcceptedRemote: UInt64 = 0

        for event in history.events {
            let wall = clock.nowMilliseconds()
            maxWall = max(maxWall, wall)
            let bound = max(maxWall, maxAcceptedRemote, history.initialLast.physicalMilliseconds)
            switch event {
            case .jump(let delta):
                clock.advance(by: delta)
                continue
            case .now:
                let stamp = hlc.now()
                #expect(stamp > previous)
                #expect(stamp.physicalMilliseconds <= bound)
                #expect(stamp.physicalMilliseconds <= maxWall + history.maxOffset)
                #expect(hlc.last == stamp)
                previous = stamp
            case .receive(let offset, let logical):
                let physical = offset >= 0 ? wall + UInt64(offset) : wall - min(wall, offset.magnitude)
                let remote = HLCTimestamp(physicalMilliseconds: physical, logical: logical)
                let acceptable = physical <= wall + history.maxOffset
                #expect(((try? hlc.check(remote)) != nil) == acceptable, "check must agree with receive")
                do throws(CRDTError) {
                    let stamp = try hlc.receive(remote)
                    #expect(acceptable)
                    maxAcceptedRemote = max(maxAcceptedRemote, physical)
                    let bound = max(bound, physical)
                    #expect(stamp > previous)
                    #expect(stamp > remote)
                    #expect(stamp.physicalMilliseconds <= bound)
                    #expect(stamp.physicalMilliseconds <= maxWall + history.maxOffset)
                    #expect(hlc.last == stamp)
                    previous = stamp
                } catch {
                    #expect(!acceptable)
                    #expect(
                        error
                            == .clockDrift(
                                remote: remote, localPhysicalMilliseconds: wall,
                                maxOffsetMilliseconds: history.maxOffset))
                    #expect(hlc.last == previous, "a refused receive must not change the clock")
                }
            }
        }
    }

    @Test func nowFollowsTheWallClockWhenItIsAhead() {
        let clock = ManualClock(1_000)
        var hlc = HybridLogicalClock(clock: clock)
        #expect(hlc.now() == HLCTimestamp(physicalMilliseconds: 1_000, logical: 0))
        #expect(hlc.now() == HLCTimestamp(physicalMilliseconds: 1_000, logical: 1))
        clock.set(2_000)
        #expect(hlc.now() == HLCTimestamp(physicalMilliseconds: 2_000, logical: 0))
    }

    @Test func nowStaysMonotonicWhenTheWallClockGoesBackwards() {
        let clock = ManualClock(5_000)
        var hlc = HybridLogicalClock(clock: clock)
        let first = hlc.now()
        clock.set(10)
        #expect(hlc.now() == HLCTimestamp(physicalMilliseconds: 5_000, logical: 1))
        #expect(hlc.now() > first)
    }

    @Test func logicalOverflowCarriesIntoThePhysicalPart() throws {
        let clock = ManualClock(0)
        var hlc = HybridLogicalClock(clock: clock, last: HLCTimestamp(physicalMilliseconds: 7, logical: .max))
        #expect(hlc.now() == HLCTimestamp(physicalMilliseconds: 8, logical: 0))
        let remote = HLCTimestamp(physicalMilliseconds: 20, logical: .max)
        #expect(try hlc.receive(remote) == HLCTimestamp(physicalMilliseconds: 21, logical: 0))
    }

    @Test func receiveTakesTheMaximumOfWallLastAndRemote() throws {
        let clock = ManualClock(1_000)
        var hlc = HybridLogicalClock(clock: clock, maxOffsetMilliseconds: 500)
        let remote = HLCTimestamp(physicalMilliseconds: 1_400, logical: 3)
        #expect(try hlc.receive(remote) == HLCTimestamp(physicalMilliseconds: 1_400, logical: 4))
        #expect(try hlc.receive(HLCTimestamp(physicalMilliseconds: 3, logical: 0))
            == HLCTimestamp(physicalMilliseconds: 1_400, logical: 5))
        clock.set(2_000)
        #expect(try hlc.receive(HLCTimestamp(physicalMilliseconds: 3, logical: 0))
            == HLCTimestamp(physicalMilliseconds: 2_000, logical: 0))
    }

    @Test func driftIsRefusedAndLeavesTheClockUnchanged() throws {
        let clock = ManualClock(1_000)
        var hlc = HybridLogicalClock(clock: clock, maxOffsetMilliseconds: 500)
        let before = hlc.now()
        let remote = HLCTimestamp(physicalMilliseconds: 1_501, logical: 0)
        let expected = CRDTError.clockDrift(
            remote: remote, localPhysicalMilliseconds: 1_000, maxOffsetMilliseconds: 500)
        #expect(throws: expected) { try hlc.check(remote) }
        #expect(throws: expected) { try hlc.receive(remote) }
        #expect(hlc.last == before)
        // Exactly at the bound is accepted.
        let edge = HLCTimestamp(physicalMilliseconds: 1_500, logical: 9)
        try hlc.check(edge)
        #expect(try hlc.receive(edge) == HLCTimestamp(physicalMilliseconds: 1_500, logical: 10))
    }

    @Test func restartContinuesAfterThePersistedTimestamp() {
        let persisted = HLCTimestamp(physicalMilliseconds: 9_000, logical: 2)
        var hlc = HybridLogicalClock(clock: ManualClock(100), last: persisted)
        #expect(hlc.last == persisted)
        #expect(hlc.now() == HLCTimestamp(physicalMilliseconds: 9_000, logical: 3))
    }

    @Test func hugeOffsetsAndWallClocksDoNotOverflow() throws {
        var lenient = HybridLogicalClock(clock: ManualClock(.max), maxOffsetMilliseconds: .max)
        #expect(lenient.now() == HLCTimestamp(physicalMilliseconds: HLCTimestamp.maxPhysicalMilliseconds, logical: 0))
        var hlc = HybridLogicalClock(clock: ManualClock(10), maxOffsetMilliseconds: .max)
        let far = HLCTimestamp(physicalMilliseconds: 1 << 40, logical: 0)
        #expect(try hlc.receive(far) == HLCTimestamp(physicalMilliseconds: 1 << 40, logical: 1))
    }

    @Test func defaults() {
        let hlc = HybridLogicalClock(clock: ManualClock())
        #expect(hlc.maxOffsetMilliseconds == 60_000)
        #expect(hlc.last == .zero)
    }
}
