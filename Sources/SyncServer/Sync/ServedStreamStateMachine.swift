import CRDT

/// The sending side of a live stream, as a pure state machine: each event returns the next ``Action``, which the
/// transport (``PeerSyncer/serveStream(to:from:write:abort:)``) performs and then reports as the next event. No
/// I/O, no clock: time is passed in as monotonic seconds, and the writer's `provenOwnSequence` with the events
/// that may lead to a live page.
///
/// The protocol:
/// - **Catch-up.** From the subscriber's vector, pages of whatever it lacks, from every origin (as a pull sends),
///   each advancing the cursor by its highest sequence per origin, for as long as the reader says more remain.
/// - **Live.** Then pages of this node's own operations only, after the cursor's own entry, up to what the writer
///   has proven (`provenOwnSequence`): operations of third parties reach the subscriber at their origin's stream,
///   or by anti-entropy. Live pages are built once for every stream at the same cursor (`livePage(after:)`).
/// - **Heartbeat.** With nothing to send for ``heartbeatSeconds`` since the last frame, a heartbeat frame; until
///   then, a wait that a local commit (or a close) ends early.
/// - **Close.** A pause, a shutdown or the subscriber's retirement finishes the stream, in any state.
/// - **Stall.** A write that has not completed within ``writeStallSeconds`` means the subscriber stopped reading:
///   the stream is dropped, and the subscriber opens another from its own vector (what it merged is not sent
///   again). A stream never queues frames (it reads the ledger by its cursor whenever it can write), so a slow
///   subscriber slows only its own stream, and one that stopped holds nothing but its connection, for a bounded
///   time.
///
/// Invariant: the cursor dominates the vector the stream started from (entries only grow), and `lastFrameAt`
/// never moves back (see ``checkInvariants()``).
struct ServedStreamStateMachine: Sendable {
    enum State: Sendable, Equatable {
        /// Not started yet.
        case idle
        /// Sending what the subscriber lacks, page after page; `cursor` is its vector advanced by what was sent.
        case catchingUp(cursor: VersionVector, lastFrameAt: Double)
        /// Sending this node's own operations as they are proven; `lastFrameAt` is when the last frame went out.
        case live(cursor: VersionVector, lastFrameAt: Double)
        /// Closed here (pause, shutdown, retirement): nothing more is sent.
        case finished
        /// The subscriber stopped reading: the stream is abandoned, its connection closed.
        case dropped
    }

    enum Action: Sendable, Equatable {
        /// Send a page of whatever the subscriber lacks by `cursor`, from every origin; report it with
        /// ``catchUpPageSent(highest:more:now:provenOwnSequence:)``, or ``nothingToCatchUp(now:provenOwnSequence:)``
        /// when the page holds no operation (then no frame is written).
        case sendCatchUpPage(from: VersionVector)
        /// Send the live page of this node's operations after `sequence`; report it with
        /// ``livePageSent(through:now:provenOwnSequence:)``, or ``noLivePage(now:)`` when there is none.
        case sendLivePage(after: UInt64)
        /// Send a heartbeat frame; report it with ``heartbeatSent(now:)``.
        case sendHeartbeat
        /// Wait this long, or until a local commit or a close wakes the stream; then report ``woken(now:provenOwnSequence:)``.
        case wait(seconds: Double)
        /// End the response cleanly.
        case finish
        /// Abandon the stream without finishing its response (its connection is closed under the stalled write).
        case drop
    }

    /// This node: live pages carry only its operations.
    let origin: ReplicaID
    let heartbeatSeconds: Double
    /// How long one write may wait for the subscriber to read before the stream is dropped.
    let writeStallSeconds: Double
    private(set) var state: State = .idle
    /// The vector the stream started from (for ``checkInvariants()``).
    private var startedFrom = VersionVector()
    private var lastFrameSeen = -Double.infinity

    /// The shortest wait asked for: a heartbeat due "now" after rounding is sent by the next step, not spun on.
    static let minimumWaitSeconds = 0.001

    init(
        origin: ReplicaID, heartbeatSeconds: Double = SyncProtocol.streamHeartbeatSeconds,
        writeStallSeconds: Double = SyncProtocol.streamStallSeconds
    ) {
        self.origin = origin
        self.heartbeatSeconds = heartbeatSeconds
        self.writeStallSeconds = writeStallSeconds
    }

    // MARK: - Events

    /// The subscriber asked for the stream from `vector`: catch-up starts there. The heartbeat interval counts
    /// from `now`.
    mutating func started(from vector: VersionVector, now: Double) -> Action {
        guard case .idle = state else { return repeatedAction() }
        startedFrom = vector
        state = .catchingUp(cursor: vector, lastFrameAt: now)
        return .sendCatchUpPage(from: vector)
    }

    /// A catch-up page went out, holding at most `highest[origin]` of each origin; `more` says whether the reader
    /// left operations out of it. More pages follow while `more`; then the stream goes live.
    mutating func catchUpPageSent(highest: [ReplicaID: UInt64], more: Bool, now: Double, provenOwnSequence: UInt64) -> Action {
        guard case .catchingUp(var cursor, let lastFrameAt) = state else { return repeatedAction() }
        guard !highest.isEmpty else { return nothingToCatchUp(now: now, provenOwnSequence: provenOwnSequence) }
        for (origin, sequence) in highest { cursor.advance(origin, to: sequence) }
        let sentAt = max(lastFrameAt, now)
        if more {
            state = .catchingUp(cursor: cursor, lastFrameAt: sentAt)
            return .sendCatchUpPage(from: cursor)
        }
        state = .live(cursor: cursor, lastFrameAt: sentAt)
        return nextLiveStep(now: now, provenOwnSequence: provenOwnSequence)
    }

    /// The catch-up page held no operation (the subscriber lacks nothing the reader can prove): the stream goes
    /// live without writing a frame.
    mutating func nothingToCatchUp(now: Double, provenOwnSequence: UInt64) -> Action {
        guard case .catchingUp(let cursor, let lastFrameAt) = state else { return repeatedAction() }
        state = .live(cursor: cursor, lastFrameAt: lastFrameAt)
        return nextLiveStep(now: now, provenOwnSequence: provenOwnSequence)
    }

    /// A live page of this node's operations through `sequence` went out: the next follows at once if the writer
    /// has proven more.
    mutating func livePageSent(through sequence: UInt64, now: Double, provenOwnSequence: UInt64) -> Action {
        guard case .live(var cursor, let lastFrameAt) = state else { return repeatedAction() }
        cursor.advance(origin, to: sequence)
        state = .live(cursor: cursor, lastFrameAt: max(lastFrameAt, now))
        return nextLiveStep(now: now, provenOwnSequence: provenOwnSequence)
    }

    /// No live page followed the cursor after all (nothing proven there yet): a heartbeat if one is due, or a wait.
    mutating func noLivePage(now: Double) -> Action {
        guard case .live(_, let lastFrameAt) = state else { return repeatedAction() }
        return heartbeatOrWait(now: now, lastFrameAt: lastFrameAt)
    }

    /// A heartbeat went out: the next is due one interval later, unless a page goes out before.
    mutating func heartbeatSent(now: Double) -> Action {
        guard case .live(let cursor, let lastFrameAt) = state else { return repeatedAction() }
        let sentAt = max(lastFrameAt, now)
        state = .live(cursor: cursor, lastFrameAt: sentAt)
        return heartbeatOrWait(now: now, lastFrameAt: sentAt)
    }

    /// The wait ended: its time passed, or a local commit woke the stream.
    mutating func woken(now: Double, provenOwnSequence: UInt64) -> Action {
        guard case .live = state else { return repeatedAction() }
        return nextLiveStep(now: now, provenOwnSequence: provenOwnSequence)
    }

    /// The stream was closed here (pause, shutdown, the subscriber's retirement): it finishes, whatever its state.
    mutating func closed() -> Action {
        if case .dropped = state { return .drop }
        state = .finished
        return .finish
    }

    /// A write did not complete within ``writeStallSeconds``: the subscriber stopped reading, so the stream is
    /// dropped rather than kept waiting on it.
    mutating func writeStalled() -> Action {
        if case .finished = state { return .finish }
        state = .dropped
        return .drop
    }

    // MARK: - Decisions

    /// Live: this node's next page if the writer has proven operations past the cursor, else a heartbeat or a wait.
    private func nextLiveStep(now: Double, provenOwnSequence: UInt64) -> Action {
        guard case .live(let cursor, let lastFrameAt) = state else { return repeatedAction() }
        if cursor[origin] < provenOwnSequence { return .sendLivePage(after: cursor[origin]) }
        return heartbeatOrWait(now: now, lastFrameAt: lastFrameAt)
    }

    private func heartbeatOrWait(now: Double, lastFrameAt: Double) -> Action {
        let silent = now - lastFrameAt
        if silent >= heartbeatSeconds { return .sendHeartbeat }
        return .wait(seconds: max(heartbeatSeconds - silent, Self.minimumWaitSeconds))
    }

    /// An event that does not fit the state (reported twice, or after the end) changes nothing: the action the
    /// state stands for is repeated, so a finished or dropped stream stays ended.
    private func repeatedAction() -> Action {
        switch state {
        case .idle, .finished: .finish
        case .dropped: .drop
        case .catchingUp(let cursor, _): .sendCatchUpPage(from: cursor)
        case .live(let cursor, _): .sendLivePage(after: cursor[origin])
        }
    }

    /// Traps when an invariant does not hold: the cursor covers the vector the stream started from, and the
    /// time of the last frame only moves forward. Tests call it after each event.
    mutating func checkInvariants() {
        switch state {
        case .catchingUp(let cursor, let lastFrameAt), .live(let cursor, let lastFrameAt):
            for (origin, sequence) in startedFrom.entries {
                precondition(cursor[origin] >= sequence, "the cursor fell below the starting vector for \(origin)")
            }
            precondition(lastFrameAt >= lastFrameSeen, "the last frame's time moved back")
            lastFrameSeen = lastFrameAt
        case .idle, .finished, .dropped:
            break
        }
    }
}
