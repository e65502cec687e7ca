/// The subscribing side of the live stream from one peer, as a pure state machine: each event returns the next
/// ``Action``, which the stream task (`PeerSyncer.streamLoop`) performs. No I/O, no clock, no randomness inside:
/// the time a stream opened and the backoff's jitter are passed in.
///
/// The rules:
/// - An attempt connects (identity check, `POST /v1/sync/stream`); once the peer answers 200 the stream is open,
///   and the status says since when.
/// - Every frame counts (heartbeats included), with its bytes on the wire; a merged page adds its operations.
/// - A stream that ends, cleanly or not, marks the peer's last attempt failed (it counts as unreachable until a
///   stream or a round succeeds again), and the next attempt waits as ``backoff`` says (`first × 2^(failures-1)`,
///   capped, times the jitter). A stream that was open resets the count to one failure: a peer that restarts is
///   back within the first wait, while one that keeps refusing is tried less and less often.
/// - A wait ends early when the task is woken (resume): the next attempt starts at once.
/// - Cancellation (pause, retirement, shutdown) stops the machine in any state; it says nothing about the peer,
///   so the last attempt's outcome is left as it was.
///
/// Invariant: the status says connected exactly while the state is `open`, with the time it opened; a stopped
/// machine stays stopped (see ``checkInvariants()``).
struct StreamSubscriptionStateMachine: Sendable {
    enum State: Sendable, Equatable {
        /// Before an attempt: at the start (no failure yet), or in backoff after `failures` attempts in a row that
        /// failed or ended.
        case waiting(failures: Int)
        /// An attempt is under way: the identity check, the request, the response's head.
        case connecting(failures: Int)
        /// The peer answered: frames flow, since `sinceMilliseconds` (Unix milliseconds).
        case open(sinceMilliseconds: UInt64)
        /// Cancelled: no further attempt.
        case stopped
    }

    /// A frame as the decoder handed it out.
    enum ReceivedFrame: Sendable, Equatable {
        case heartbeat
        /// A page of `bytes` bytes (length prefix excluded).
        case page(bytes: Int)
    }

    /// How a stream, or an attempt to open one, ended.
    enum Ending: Sendable, Equatable {
        /// The peer ended the body between frames.
        case cleanly
        /// It failed: the peer's bytes broke the protocol, a transport failure, a refusal (see ``StreamFailure``).
        case failed(StreamFailure)
    }

    enum Action: Sendable, Equatable {
        /// Open the stream (identity check, then the request); report ``opened(sinceMilliseconds:)``, then each
        /// frame, and ``ended(_:jitter:)`` at the end.
        case connect
        /// Show `status` (`inv status`, metrics) and go on reading the stream.
        case publish(StreamStatus)
        /// Show `status`, then wait `seconds`, or until woken early, before the next attempt
        /// (``attemptStarted()``).
        case reconnect(afterSeconds: Double, status: StreamStatus)
        /// Show `status`, and end the stream task.
        case stop(StreamStatus)
    }

    /// The waits between attempts: the rounds' (``PeerSyncPolicy/defaultBackoff``).
    let backoff: BackoffSchedule
    private(set) var state: State = .waiting(failures: 0)
    /// What `inv status` shows of this stream: its counters carry over from earlier stream tasks for the same peer.
    private(set) var status: StreamStatus

    /// - Parameter status: the peer's status so far (its counters go on from there); no stream is open yet.
    init(status: StreamStatus = StreamStatus(), backoff: BackoffSchedule = PeerSyncPolicy.defaultBackoff) {
        self.backoff = backoff
        self.status = status
        self.status.connected = false
        self.status.connectedSinceMilliseconds = nil
    }

    // MARK: - Events

    /// The first attempt, or the next one once the backoff's wait ended (its time passed, or the task was woken
    /// early): connect.
    mutating func attemptStarted() -> Action {
        switch state {
        case .waiting(let failures):
            state = .connecting(failures: failures)
            return .connect
        case .connecting:
            return .connect
        case .open:
            return .publish(status)
        case .stopped:
            return .stop(status)
        }
    }

    /// The peer answered the request: the stream is open since `sinceMilliseconds` (Unix milliseconds).
    mutating func opened(sinceMilliseconds: UInt64) -> Action {
        guard case .connecting = state else { return repeatedAction() }
        state = .open(sinceMilliseconds: sinceMilliseconds)
        status.connected = true
        status.lastAttemptFailed = false
        status.connectedSinceMilliseconds = sinceMilliseconds
        return .publish(status)
    }

    /// A whole frame arrived.
    mutating func frameReceived(_ frame: ReceivedFrame) -> Action {
        guard case .open = state else { return repeatedAction() }
        status.framesReceived += 1
        switch frame {
        case .heartbeat: status.bytesReceived += StreamFrame.headerBytes
        case .page(let bytes): status.bytesReceived += StreamFrame.headerBytes + bytes
        }
        return .publish(status)
    }

    /// A page was merged: `operations` were applied, duplicates, refused or unproven.
    mutating func pageMerged(operations: Int) -> Action {
        guard case .open = state else { return repeatedAction() }
        status.operationsReceived += operations
        return .publish(status)
    }

    /// The stream, or the attempt to open it, ended. A cancellation stops the machine; anything else waits for the
    /// next attempt, by the backoff after one failure if the stream was open, after one more failure if not.
    ///
    /// - Parameter jitter: a factor in `BackoffSchedule.jitterRange` drawn by the caller.
    mutating func ended(_ ending: Ending, jitter: Double) -> Action {
        if ending == .failed(.cancelled) { return cancelled() }
        let failures: Int
        switch state {
        case .connecting(let before): failures = before + 1
        case .open: failures = 1
        case .waiting, .stopped: return repeatedAction()
        }
        state = .waiting(failures: failures)
        status.connected = false
        status.connectedSinceMilliseconds = nil
        status.lastAttemptFailed = true
        // `backoff` has no attempt limit, so there is always a next wait; a schedule given one waits its cap.
        let delay = backoff.delay(afterFailures: failures, jitter: jitter) ?? backoff.cap
        return .reconnect(afterSeconds: delay.inSeconds, status: status)
    }

    /// The task was cancelled (pause, retirement, shutdown): no further attempt.
    mutating func cancelled() -> Action {
        state = .stopped
        status.connected = false
        status.connectedSinceMilliseconds = nil
        return .stop(status)
    }

    /// The failures in a row so far (0 before the first attempt ends, 1 after a stream that was open ended).
    var failures: Int {
        switch state {
        case .waiting(let failures), .connecting(let failures): failures
        case .open, .stopped: 0
        }
    }

    /// An event that does not fit the state changes nothing: the action the state stands for is repeated (in
    /// backoff, the wait without jitter).
    private func repeatedAction() -> Action {
        switch state {
        case .waiting(let failures) where failures > 0:
            .reconnect(afterSeconds: (backoff.delay(afterFailures: failures, jitter: 1) ?? backoff.cap).inSeconds, status: status)
        case .waiting, .connecting: .connect
        case .open: .publish(status)
        case .stopped: .stop(status)
        }
    }

    /// Traps when an invariant does not hold: connected exactly while open, with the time it opened; failures
    /// never negative.
    func checkInvariants() {
        switch state {
        case .open(let since):
            precondition(status.connected && status.connectedSinceMilliseconds == since, "open, but the status says otherwise")
            precondition(!status.lastAttemptFailed, "open, but the last attempt is marked failed")
        case .waiting(let failures), .connecting(let failures):
            precondition(failures >= 0, "negative failures")
            precondition(!status.connected && status.connectedSinceMilliseconds == nil, "not open, but the status says connected")
        case .stopped:
            precondition(!status.connected && status.connectedSinceMilliseconds == nil, "stopped, but the status says connected")
        }
    }
}
