import AsyncHTTPClient
import NIOCore
import Testing

@testable import SyncServer

/// `StreamSubscriptionStateMachine` is pure: every test drives it with hand-picked times and jitters and checks the
/// action it answers and the status it publishes. No sockets, no sleeping.
@Suite("StreamSubscriptionStateMachine: when to open the stream from a peer, and what its status shows", .timeLimit(.minutes(3)))
struct StreamSubscriptionStateMachineTests {
    typealias Machine = StreamSubscriptionStateMachine

    /// The wait an action asks for before the next attempt; `nil` for any other action.
    static func reconnectDelay(_ action: Machine.Action) -> Double? {
        guard case .reconnect(let seconds, _) = action else { return nil }
        return seconds
    }

    /// The status an action publishes.
    static func published(_ action: Machine.Action) -> StreamStatus? {
        switch action {
        case .publish(let status), .reconnect(_, let status), .stop(let status): status
        case .connect: nil
        }
    }

    /// A machine whose attempt in progress failed `times` times in a row, each with a neutral jitter.
    static func failing(_ times: Int) -> (Machine, [Double?]) {
        var machine = Machine()
        var delays: [Double?] = []
        for _ in 0..<times {
            #expect(machine.attemptStarted() == .connect)
            delays.append(reconnectDelay(machine.ended(.failed(.connection(.connectionRefused)), jitter: 1)))
            machine.checkInvariants()
        }
        return (machine, delays)
    }

    @Test("the first attempt connects at once, with the rounds' backoff")
    func firstAttemptConnects() {
        var machine = Machine()
        #expect(machine.backoff == PeerSyncPolicy.defaultBackoff)
        #expect(machine.state == .waiting(failures: 0))
        #expect(machine.attemptStarted() == .connect)
        #expect(machine.state == .connecting(failures: 0))
        machine.checkInvariants()
    }

    @Test("attempts that fail in a row wait 0.5 s doubling up to 30 s, times the jitter")
    func backoffGrows() {
        let (machine, delays) = Self.failing(9)
        #expect(delays == [0.5, 1, 2, 4, 8, 16, 30, 30, 30])
        #expect(machine.failures == 9)
        var jittered = Machine()
        _ = jittered.attemptStarted()
        #expect(Self.reconnectDelay(jittered.ended(.failed(.connection(.timedOut)), jitter: 1.5)) == 0.75)
        _ = jittered.attemptStarted()
        #expect(Self.reconnectDelay(jittered.ended(.cleanly, jitter: 0.5)) == 0.5)
        _ = jittered.attemptStarted()
        #expect(Self.reconnectDelay(jittered.ended(.failed(.malformed), jitter: 9)) == 3, "a jitter above 1.5 counts as 1.5")
    }

    @Test("a stream that was open resets the backoff to one failure when it ends, whatever came before")
    func backoffResetsAfterAnOpenStream() {
        var (machine, _) = Self.failing(6)
        #expect(machine.attemptStarted() == .connect)
        _ = machine.opened(sinceMilliseconds: 1_000)
        #expect(machine.failures == 0)
        machine.checkInvariants()
        #expect(Self.reconnectDelay(machine.ended(.failed(.connection(.timedOut)), jitter: 1)) == 0.5)
        #expect(machine.failures == 1)
        _ = machine.attemptStarted()
        #expect(Self.reconnectDelay(machine.ended(.failed(.connection(.connectionRefused)), jitter: 1)) == 1,
                "an attempt that never opened grows the count again")
        _ = machine.attemptStarted()
        _ = machine.opened(sinceMilliseconds: 2_000)
        #expect(Self.reconnectDelay(machine.ended(.cleanly, jitter: 1)) == 0.5, "a clean end of an open stream: one failure")
    }

    @Test("opening publishes connected, since when, and clears the failed attempt; an end clears both and marks it failed")
    func openAndEndStatus() {
        var (machine, _) = Self.failing(1)
        #expect(machine.status.lastAttemptFailed)
        _ = machine.attemptStarted()
        let opened = Self.published(machine.opened(sinceMilliseconds: 1_700_000_000_000))
        #expect(opened?.connected == true)
        #expect(opened?.connectedSinceMilliseconds == 1_700_000_000_000)
        #expect(opened?.lastAttemptFailed == false)
        #expect(machine.state == .open(sinceMilliseconds: 1_700_000_000_000))
        machine.checkInvariants()
        let ended = Self.published(machine.ended(.cleanly, jitter: 1))
        #expect(ended?.connected == false)
        #expect(ended?.connectedSinceMilliseconds == nil)
        #expect(ended?.lastAttemptFailed == true, "an ended stream counts as a failed attempt until another opens")
        machine.checkInvariants()
    }

    @Test("frames count with their bytes on the wire, heartbeats included; merged pages add their operations")
    func counters() {
        var machine = Machine()
        _ = machine.attemptStarted()
        _ = machine.opened(sinceMilliseconds: 5)
        #expect(Self.published(machine.frameReceived(.heartbeat)) == machine.status)
        _ = machine.frameReceived(.page(bytes: 100))
        _ = machine.pageMerged(operations: 7)
        let status = Self.published(machine.frameReceived(.page(bytes: 20)))
        #expect(status?.framesReceived == 3)
        #expect(status?.bytesReceived == 3 * StreamFrame.headerBytes + 120)
        #expect(status?.operationsReceived == 7)
        machine.checkInvariants()
    }

    @Test("counters carry over from the peer's earlier stream tasks; a new machine is never connected")
    func countersCarryOver() {
        var earlier = StreamStatus()
        earlier.connected = true
        earlier.connectedSinceMilliseconds = 9
        earlier.framesReceived = 40
        earlier.bytesReceived = 4_000
        earlier.operationsReceived = 300
        earlier.lastAttemptFailed = true
        var machine = Machine(status: earlier)
        #expect(!machine.status.connected)
        #expect(machine.status.connectedSinceMilliseconds == nil)
        #expect(machine.status.lastAttemptFailed, "only an open stream clears the failed attempt")
        machine.checkInvariants()
        _ = machine.attemptStarted()
        _ = machine.opened(sinceMilliseconds: 10)
        #expect(Self.published(machine.frameReceived(.heartbeat))?.framesReceived == 41)
    }

    @Test("cancellation stops the machine in every state, leaves the last attempt's outcome, and it stays stopped")
    func cancellationStops() {
        var waiting = Machine()
        #expect(waiting.cancelled() == .stop(waiting.status))
        #expect(waiting.attemptStarted() == .stop(waiting.status), "no attempt after a cancellation")

        var (backingOff, _) = Self.failing(2)
        #expect(Self.published(backingOff.cancelled())?.lastAttemptFailed == true)
        backingOff.checkInvariants()

        var open = Machine()
        _ = open.attemptStarted()
        _ = open.opened(sinceMilliseconds: 3)
        let stopped = open.ended(.failed(.cancelled), jitter: 1)
        #expect(open.state == .stopped)
        #expect(Self.published(stopped)?.connected == false)
        #expect(Self.published(stopped)?.connectedSinceMilliseconds == nil)
        #expect(Self.published(stopped)?.lastAttemptFailed == false, "a pause says nothing about the peer")
        open.checkInvariants()
        #expect(open.frameReceived(.heartbeat) == .stop(open.status), "a frame after the stop changes nothing")
        #expect(open.status.framesReceived == 0)
    }

    @Test("a wake-up ends the wait early: the next attempt starts at once, by the same backoff count")
    func earlyWakeUp() {
        var (machine, delays) = Self.failing(5)
        #expect(delays.last == 8, "in backoff for 8 s")
        #expect(machine.attemptStarted() == .connect, "woken (resume) before the 8 s passed: connect now")
        #expect(Self.reconnectDelay(machine.ended(.failed(.connection(.timedOut)), jitter: 1)) == 16)
    }

    @Test("events that do not fit the state change nothing")
    func outOfOrderEvents() {
        var machine = Machine()
        #expect(machine.frameReceived(.heartbeat) == .connect, "no stream open: nothing counted")
        #expect(machine.status.framesReceived == 0)
        _ = machine.attemptStarted()
        #expect(Self.reconnectDelay(machine.ended(.cleanly, jitter: 1)) == 0.5)
        #expect(Self.reconnectDelay(machine.ended(.cleanly, jitter: 1)) == 0.5, "an end reported twice counts once")
        #expect(machine.failures == 1)
        #expect(Self.reconnectDelay(machine.opened(sinceMilliseconds: 1)) == 0.5, "not connecting: an opening is ignored")
        #expect(!machine.status.connected)
        machine.checkInvariants()
    }

    @Test("errors are classified by their type: frames and pages that do not decode, cancellation, transport failures by kind")
    func failuresByType() {
        #expect(StreamFailure(StreamFrameError.truncated(have: 2, expected: 4)) == .malformed)
        #expect(StreamFailure(StreamFrameError.oversized(length: 1 << 30, limit: 1 << 25)) == .malformed)
        #expect(StreamFailure(OperationPage.Failure.malformed("empty")) == .malformed)
        #expect(StreamFailure(CancellationError()) == .cancelled)
        #expect(StreamFailure(HTTPClientError.readTimeout) == .connection(.timedOut), "an idle stream's read timeout")
        #expect(StreamFailure(HTTPClientError.connectTimeout) == .connection(.timedOut))
        #expect(StreamFailure(SyncFailure("x is retired", kind: .retired)) == .connection(.retired))
        #expect(StreamFailure(SyncFailure.refusal("https://p/v1/sync/stream", status: 503, body: ByteBuffer(
            string: #"{"error":{"code":"sync_paused","message":"sync is paused on this node"}}"#))) == .connection(.pausedThere))
        #expect(StreamFailure(SyncFailure.refusal("https://p/v1/sync/stream", status: 500, body: ByteBuffer(string: "boom")))
            == .connection(.peerError))
        struct Unknown: Error {}
        #expect(StreamFailure(Unknown()) == .connection(.other))
    }
}
