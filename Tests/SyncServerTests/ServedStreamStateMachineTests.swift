import CRDT
import Testing

@testable import SyncServer

/// `ServedStreamStateMachine` is pure: every test drives it with hand-picked times (seconds on a fake monotonic
/// clock) and proven sequences, and checks the action it answers. No sockets, no store, no sleeping.
@Suite("ServedStreamStateMachine: what a served stream sends next", .timeLimit(.minutes(3)))
struct ServedStreamStateMachineTests {
    typealias Machine = ServedStreamStateMachine

    let me: ReplicaID
    let other: ReplicaID

    init() throws {
        me = try ReplicaID("MAD")
        other = try ReplicaID("SEV")
    }

    /// A machine for `me` with a 10 s heartbeat and a 30 s stall limit.
    func machine() -> Machine {
        Machine(origin: me, heartbeatSeconds: 10, writeStallSeconds: 30)
    }

    /// A machine already live with its cursor at `vector`, its last frame at `lastFrameAt`.
    func live(at vector: VersionVector, lastFrameAt: Double) -> Machine {
        var machine = machine()
        _ = machine.started(from: vector, now: lastFrameAt)
        let action = machine.nothingToCatchUp(now: lastFrameAt, provenOwnSequence: vector[me])
        #expect(action == .wait(seconds: 10))
        machine.checkInvariants()
        return machine
    }

    @Test("the documented limits: a heartbeat every 20 s, a stall limit of 30 s")
    func documentedLimits() {
        let machine = Machine(origin: me)
        #expect(machine.heartbeatSeconds == SyncProtocol.streamHeartbeatSeconds)
        #expect(machine.heartbeatSeconds == 20)
        #expect(machine.writeStallSeconds == SyncProtocol.streamStallSeconds)
        #expect(machine.writeStallSeconds == 30)
    }

    @Test("it starts with a catch-up page from the subscriber's vector, then goes live with this node's own page")
    func catchUpThenLive() {
        var machine = machine()
        let start = VersionVector([me: 2, other: 5])
        #expect(machine.started(from: start, now: 100) == .sendCatchUpPage(from: start))
        machine.checkInvariants()
        let action = machine.catchUpPageSent(highest: [me: 4, other: 9], more: false, now: 100.5, provenOwnSequence: 6)
        machine.checkInvariants()
        #expect(action == .sendLivePage(after: 4), "live pages start after what the catch-up sent of this node's own")
        #expect(machine.state == .live(cursor: VersionVector([me: 4, other: 9]), lastFrameAt: 100.5))
    }

    @Test("catch-up pages follow one another while the reader says more remain, each from the advanced cursor")
    func moreCatchUpPages() {
        var machine = machine()
        _ = machine.started(from: VersionVector(), now: 0)
        #expect(machine.catchUpPageSent(highest: [other: 50_000], more: true, now: 1, provenOwnSequence: 0)
            == .sendCatchUpPage(from: VersionVector([other: 50_000])))
        machine.checkInvariants()
        #expect(machine.catchUpPageSent(highest: [other: 90_000, me: 10_000], more: true, now: 2, provenOwnSequence: 10_000)
            == .sendCatchUpPage(from: VersionVector([other: 90_000, me: 10_000])))
        machine.checkInvariants()
        #expect(machine.catchUpPageSent(highest: [other: 95_000], more: false, now: 3, provenOwnSequence: 10_000) == .wait(seconds: 10),
                "caught up, with nothing of its own to send: it waits a heartbeat interval after the last frame")
        machine.checkInvariants()
    }

    @Test("a catch-up page holding nothing is not a frame: the stream goes live, its heartbeat counted from the start")
    func nothingToCatchUp() {
        var machine = machine()
        let start = VersionVector([me: 3])
        _ = machine.started(from: start, now: 100)
        #expect(machine.nothingToCatchUp(now: 104, provenOwnSequence: 3) == .wait(seconds: 6))
        #expect(machine.state == .live(cursor: start, lastFrameAt: 100))
        machine.checkInvariants()
        var again = self.machine()
        _ = again.started(from: start, now: 100)
        #expect(again.catchUpPageSent(highest: [:], more: true, now: 101, provenOwnSequence: 5) == .sendLivePage(after: 3),
                "an empty page ends the catch-up even if the reader said more")
    }

    @Test("live pages carry this node's operations only up to the writer's proven sequence")
    func livePagesUpToProven() {
        var machine = live(at: VersionVector([me: 4, other: 7]), lastFrameAt: 0)
        #expect(machine.woken(now: 1, provenOwnSequence: 4) == .wait(seconds: 9), "nothing proven past the cursor: no page")
        #expect(machine.woken(now: 2, provenOwnSequence: 9) == .sendLivePage(after: 4))
        #expect(machine.livePageSent(through: 7, now: 2.1, provenOwnSequence: 9) == .sendLivePage(after: 7),
                "a page bounded below what is proven: the next follows at once")
        machine.checkInvariants()
        #expect(machine.livePageSent(through: 9, now: 2.2, provenOwnSequence: 9) == .wait(seconds: 10))
        machine.checkInvariants()
        #expect(machine.state == .live(cursor: VersionVector([me: 9, other: 7]), lastFrameAt: 2.2),
                "third parties' entries are left as the catch-up set them")
        #expect(machine.woken(now: 3, provenOwnSequence: 12) == .sendLivePage(after: 9))
    }

    @Test("no live page after all (nothing proven there yet): a heartbeat if due, else a wait")
    func noLivePage() {
        var machine = live(at: VersionVector([me: 1]), lastFrameAt: 0)
        #expect(machine.woken(now: 4, provenOwnSequence: 2) == .sendLivePage(after: 1))
        #expect(machine.noLivePage(now: 4) == .wait(seconds: 6))
        #expect(machine.noLivePage(now: 10) == .sendHeartbeat)
        machine.checkInvariants()
    }

    @Test("a heartbeat is due exactly one interval after the last frame, and not before")
    func heartbeatAtTheInterval() {
        var machine = live(at: VersionVector(), lastFrameAt: 100)
        #expect(machine.woken(now: 109.999, provenOwnSequence: 0) != .sendHeartbeat)
        #expect(machine.woken(now: 110, provenOwnSequence: 0) == .sendHeartbeat)
        #expect(machine.heartbeatSent(now: 110.2) == .wait(seconds: 10), "the next heartbeat counts from this one")
        machine.checkInvariants()
        let wait = machine.woken(now: 120.1, provenOwnSequence: 0).waitSeconds
        #expect(wait.map { abs($0 - 0.1) < 1e-9 } == true, "\(String(describing: wait))")
        #expect(machine.woken(now: 120.2, provenOwnSequence: 0) == .sendHeartbeat)
    }

    @Test("a page resets the heartbeat's interval: a stream that sends pages sends no heartbeat")
    func pagesResetTheHeartbeat() {
        var machine = live(at: VersionVector(), lastFrameAt: 0)
        #expect(machine.woken(now: 8, provenOwnSequence: 1) == .sendLivePage(after: 0))
        #expect(machine.livePageSent(through: 1, now: 8, provenOwnSequence: 1) == .wait(seconds: 10))
        #expect(machine.woken(now: 15, provenOwnSequence: 1) == .wait(seconds: 3))
        #expect(machine.woken(now: 18, provenOwnSequence: 1) == .sendHeartbeat)
    }

    @Test("waits last until the next heartbeat is due; a late wake asks for the shortest wait, never a negative one")
    func waitDurations() {
        var machine = live(at: VersionVector(), lastFrameAt: 50)
        #expect(machine.woken(now: 50, provenOwnSequence: 0) == .wait(seconds: 10))
        #expect(machine.woken(now: 52.5, provenOwnSequence: 0) == .wait(seconds: 7.5))
        #expect(machine.woken(now: 59.75, provenOwnSequence: 0) == .wait(seconds: 0.25))
        #expect(machine.woken(now: 60 - 1e-6, provenOwnSequence: 0) == .wait(seconds: Machine.minimumWaitSeconds),
                "a microsecond early: the shortest wait, not a spin")
        #expect(machine.woken(now: 75, provenOwnSequence: 0) == .sendHeartbeat, "overdue: at once")
    }

    @Test("a close finishes the stream in every state, and it stays finished")
    func closeFinishesEverywhere() {
        var idle = machine()
        #expect(idle.closed() == .finish)
        #expect(idle.started(from: VersionVector(), now: 0) == .finish, "closed before it started: nothing is sent")

        var catchingUp = machine()
        _ = catchingUp.started(from: VersionVector(), now: 0)
        #expect(catchingUp.closed() == .finish)
        #expect(catchingUp.catchUpPageSent(highest: [other: 1], more: true, now: 1, provenOwnSequence: 0) == .finish)

        var live = live(at: VersionVector([me: 1]), lastFrameAt: 0)
        #expect(live.closed() == .finish)
        #expect(live.woken(now: 1, provenOwnSequence: 5) == .finish)
        #expect(live.heartbeatSent(now: 20) == .finish)
        #expect(live.writeStalled() == .finish, "a stall after the close: the stream already finished")
        #expect(live.state == .finished)
    }

    @Test("a write that stalls past the limit drops the stream, in any state; a later close leaves it dropped")
    func stalledWriteDrops() {
        var catchingUp = machine()
        _ = catchingUp.started(from: VersionVector([other: 3]), now: 0)
        #expect(catchingUp.writeStalled() == .drop)
        #expect(catchingUp.state == .dropped)
        #expect(catchingUp.catchUpPageSent(highest: [other: 9], more: false, now: 40, provenOwnSequence: 0) == .drop)
        #expect(catchingUp.closed() == .drop)

        var live = live(at: VersionVector([me: 1]), lastFrameAt: 0)
        #expect(live.woken(now: 10, provenOwnSequence: 1) == .sendHeartbeat)
        #expect(live.writeStalled() == .drop)
        #expect(live.woken(now: 50, provenOwnSequence: 9) == .drop)
    }

    @Test("a stream that stays live idles with one heartbeat per interval and reads nothing while nothing is proven")
    func longIdle() {
        var machine = live(at: VersionVector([me: 5]), lastFrameAt: 0)
        var heartbeats = 0
        var now = 0.0
        var action = machine.woken(now: now, provenOwnSequence: 5)
        for _ in 0..<200 {
            switch action {
            case .wait(let seconds):
                now += seconds
                action = machine.woken(now: now, provenOwnSequence: 5)
            case .sendHeartbeat:
                heartbeats += 1
                action = machine.heartbeatSent(now: now)
            default:
                Issue.record("unexpected \(action) with nothing proven past the cursor")
                return
            }
            machine.checkInvariants()
        }
        #expect(heartbeats == 100)
        #expect(now == 1_000)
    }
}

extension ServedStreamStateMachine.Action {
    /// The length of a wait; `nil` for any other action.
    fileprivate var waitSeconds: Double? {
        guard case .wait(let seconds) = self else { return nil }
        return seconds
    }
}
