import AsyncHTTPClient
import CRDT
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Store
import Synchronization

/// A stream this node serves to a peer that subscribed to it.
final class ServedStream: Sendable {
    let peer: String
    /// Woken by each local commit, and by `close()`.
    let waker = LoopWaker()
    private let closed = Mutex(false)

    init(peer: String) { self.peer = peer }

    var isClosed: Bool { closed.withLock { $0 } }

    /// Ends the stream at its next step.
    func close() {
        closed.withLock { $0 = true }
        waker.wake()
    }
}

/// A frame of this node's own operations `after + 1 ... through`, as every live stream sends it.
struct LivePage: Sendable {
    var after: UInt64
    var through: UInt64
    var frame: ByteBuffer
}

/// Identifies one stream task of a peer: only the task the peer's record names publishes the stream's status.
final class StreamOwner: Sendable {}

/// What `inv status` shows of the live stream from a peer.
struct StreamStatus: Sendable, Equatable {
    var connected = false
    /// When the stream in progress was opened (Unix milliseconds).
    var connectedSinceMilliseconds: UInt64?
    /// The last attempt to open the stream failed, or the stream ended: the peer counts as unreachable until a
    /// stream or a round succeeds again.
    var lastAttemptFailed = false
    /// Frames (heartbeats included), their bytes on the wire and the operations their pages carried, since start.
    var framesReceived = 0
    var bytesReceived = 0
    var operationsReceived = 0
}

/// Live streams between peers.
///
/// A subscriber opens `POST /v1/sync/stream` on a peer with its version vector; the peer answers one long body of
/// ``StreamFrame``s. It first sends, in bounded pages, what the subscriber lacks (from every origin, as a pull
/// does), then, woken by each local commit, a page of the operations it originated since what it sent. A stream
/// never queues frames: it keeps its own cursor (the vector it started from, advanced by what it sent) and reads the
/// ledger by it whenever it can write, so the sender's writes never wait on a stream, and a slow subscriber simply
/// gets bigger pages later. Operations of third parties, merged here from other peers, are not streamed: their
/// origin streams them to each of its subscribers, and anti-entropy rounds carry what a broken link kept from
/// anyone. A broken stream is closed; the subscriber opens another from its vector, after a backoff. A subscriber
/// that stops reading stalls only its own stream's writes, and after ``SyncProtocol/streamStallSeconds`` its stream
/// is dropped.
///
/// The protocol's decisions are two pure state machines, tested without sockets: ``ServedStreamStateMachine`` (the
/// sending side) and ``StreamSubscriptionStateMachine`` (the subscribing side). The code here only performs their
/// actions: reads, writes, waits, and publishes the status they answer.
extension PeerSyncer {
    // MARK: - Serving

    /// Sends frames to `peer` through `write`, from `vector` on, as a ``ServedStreamStateMachine`` decides, until
    /// the stream is closed (pause, shutdown, the peer retired: see `refreshMembers()`), a write fails (the peer went
    /// away) or a write stalls (the peer stopped reading: `abort` then closes the connection under it).
    ///
    /// - Returns: how the stream ended: `.finish` (the response is to be ended cleanly) or `.drop` (its connection
    ///   was closed: nothing more can be written).
    @discardableResult
    func serveStream(
        to peer: String, from vector: VersionVector, write: (ByteBuffer) async throws -> Void,
        abort: @escaping @Sendable () -> Void
    ) async throws -> ServedStreamStateMachine.Action {
        let stream = ServedStream(peer: peer)
        let key = ObjectIdentifier(stream)
        servedStreams.withLock { $0[key] = stream }
        defer { servedStreams.withLock { $0[key] = nil } }
        // Closed meanwhile: a stream opened during a pause or a shutdown ends at once.
        if isPaused || streamsClosed.withLock({ $0 }) { stream.close() }
        let writer = node.store.writer
        var machine = ServedStreamStateMachine(origin: node.store.replica)
        let stallGuard = StalledWriteGuard(limitSeconds: machine.writeStallSeconds, abort: abort)
        defer { stallGuard.stop() }
        /// Writes `frame` within the stall limit; `false` when it stalled (the connection is then closed).
        func send(_ frame: ByteBuffer) async throws -> Bool {
            try await stallGuard.write { try await write(frame) } == .written
        }
        var action = machine.started(from: vector, now: clock())
        while true {
            if stream.isClosed || Task.isCancelled { action = machine.closed() }
            switch action {
            case .sendCatchUpPage(let cursor):
                let (page, sent, more) = try OperationPage.encodeProven(from: node.store.reader, missingFrom: cursor, limit: pageSize)
                let highest = OperationPage.highest(of: sent)
                guard !highest.isEmpty else {
                    action = machine.nothingToCatchUp(now: clock(), provenOwnSequence: writer.provenOwnSequence)
                    continue
                }
                let frame = StreamFrame.encode(page: page)
                guard try await send(frame) else {
                    action = machine.writeStalled()
                    continue
                }
                peers.withLock { $0[peer]?.bytesSent += frame.readableBytes }
                action = machine.catchUpPageSent(highest: highest, more: more, now: clock(), provenOwnSequence: writer.provenOwnSequence)
            case .sendLivePage(let sequence):
                guard let page = try livePage(after: sequence) else {
                    action = machine.noLivePage(now: clock())
                    continue
                }
                guard try await send(page.frame) else {
                    action = machine.writeStalled()
                    continue
                }
                peers.withLock { $0[peer]?.bytesSent += page.frame.readableBytes }
                action = machine.livePageSent(through: page.through, now: clock(), provenOwnSequence: writer.provenOwnSequence)
            case .sendHeartbeat:
                guard try await send(StreamFrame.heartbeatBytes) else {
                    action = machine.writeStalled()
                    continue
                }
                action = machine.heartbeatSent(now: clock())
            case .wait(let seconds):
                await stream.waker.wait(seconds: seconds)
                action = machine.woken(now: clock(), provenOwnSequence: writer.provenOwnSequence)
            case .finish:
                return .finish
            case .drop:
                logger.info("dropped the stream to \(peer): a write waited \(Int(machine.writeStallSeconds)) s for it to read; it resumes from its vector")
                return .drop
            }
        }
    }

    /// The frame of this node's own operations after `sequence` (a page, bounded as any), built once for every
    /// stream whose cursor stands there: with N subscribers, a commit is read, encoded and compressed once, not N
    /// times. `nil` when no proven operation follows `sequence`.
    func livePage(after sequence: UInt64) throws -> LivePage? {
        if let cached = livePages.withLock({ $0 }), cached.after == sequence { return cached }
        let me = node.store.replica
        var vector = VersionVector()
        vector.advance(me, to: sequence)
        let (page, sent, _) = try OperationPage.encodeProven(
            from: node.store.reader, missingFrom: vector, limit: pageSize, origins: [me])
        guard let through = sent.lazy.filter({ $0.origin == me }).map(\.sequence).max(), through > sequence else { return nil }
        let built = LivePage(after: sequence, through: through, frame: StreamFrame.encode(page: page))
        livePages.withLock { cached in
            if (cached?.through ?? 0) <= through { cached = built }
        }
        return built
    }

    /// Builds the live page that follows the last one, before a local commit wakes the streams, when some stream
    /// is served and the commit proved operations beyond that page: the streams it wakes (on every thread of the
    /// pool at once) then find it built, where each built its own until the first one's was cached.
    func buildNextLivePage() {
        guard let last = livePages.withLock({ $0 }), node.store.writer.provenOwnSequence > last.through,
              servedStreams.withLock({ !$0.isEmpty })
        else { return }
        do {
            _ = try livePage(after: last.through)
        } catch {
            // Each stream builds it again, and reports what fails there.
            logger.debug("building the next live page failed: \(error)")
        }
    }

    /// Ends every stream this node serves.
    func closeServedStreams() {
        for stream in servedStreams.withLock({ Array($0.values) }) { stream.close() }
    }

    /// Ends every stream for good: at shutdown, so that the peer listener does not wait for their responses.
    public func closeStreamsForShutdown() {
        streamsClosed.withLock { $0 = true }
        closeServedStreams()
    }

    /// Ends the streams this node serves and those it subscribes to (a pause).
    func closeStreams() {
        closeServedStreams()
        let tasks = peers.withLock { peers in
            var tasks: [Task<Void, Never>] = []
            for key in peers.keys {
                if let task = peers[key]?.streamTask { tasks.append(task) }
                peers[key]?.streamTask = nil
                peers[key]?.stream.connected = false
                peers[key]?.stream.connectedSinceMilliseconds = nil
            }
            return tasks
        }
        for task in tasks { task.cancel() }
    }

    // MARK: - Subscribing

    /// Starts a stream task for each peer that has none, once a round with it succeeded: that round's hello brought
    /// the certificates its pages are proven with (the pages of a stream opened before would be refused).
    func openStreams() {
        let names = peers.withLock { peers in
            peers.filter { $0.value.streamTask == nil && $0.value.lastSuccessAt != nil }.map(\.key)
        }
        for name in names {
            let owner = StreamOwner()
            let task = Task { [self] in await streamLoop(name, owner: owner) }
            let started = peers.withLock { peers -> Bool in
                guard peers[name] != nil, peers[name]?.streamTask == nil else { return false }
                peers[name]?.streamTask = task
                peers[name]?.streamOwner = owner
                return true
            }
            if !started { task.cancel() }
        }
    }

    /// Keeps a stream from `warehouse` open, as a ``StreamSubscriptionStateMachine`` decides: subscribes, merges
    /// what arrives, and after a failure or an end subscribes again, after the rounds' backoff (reset once a stream
    /// was open).
    private func streamLoop(_ warehouse: String, owner: StreamOwner) async {
        guard let (waker, status) = peers.withLock({ peers in peers[warehouse].map { ($0.streamWaker, $0.stream) } }) else { return }
        var machine = StreamSubscriptionStateMachine(status: status)
        var random = SystemRandomNumberGenerator()
        var action = machine.attemptStarted()
        while true {
            if Task.isCancelled { action = machine.cancelled() }
            switch action {
            case .connect:
                guard let url = peers.withLock({ $0[warehouse]?.url }) else {
                    action = machine.cancelled()
                    continue
                }
                let ending: StreamSubscriptionStateMachine.Ending
                do {
                    try await subscribe(to: warehouse, at: url, machine: &machine, owner: owner)
                    ending = .cleanly
                } catch {
                    ending = .failed(Task.isCancelled ? .cancelled : StreamFailure(error))
                    switch ending {
                    case .failed(.malformed):
                        logger.warning("closing the stream from \(warehouse): \(error)")
                    case .failed(.connection):
                        logger.debug("stream from \(warehouse) at \(url) ended: \(SyncFailure.describe(error))")
                    case .failed(.cancelled), .cleanly:
                        break
                    }
                }
                // The stream ended: whoever listens at the peer's address now is checked again.
                if ending != .failed(.cancelled) { forgetIdentity(of: warehouse) }
                action = machine.ended(ending, jitter: BackoffSchedule.drawJitter(using: &random))
            case .publish(let status):
                // Only an open stream's events answer this, and `subscribe` performs them: here that stream is over.
                publish(status, of: warehouse, by: owner)
                action = machine.ended(.cleanly, jitter: BackoffSchedule.drawJitter(using: &random))
            case .reconnect(let seconds, let status):
                publish(status, of: warehouse, by: owner)
                await waker.wait(seconds: seconds)
                action = machine.attemptStarted()
            case .stop(let status):
                publish(status, of: warehouse, by: owner)
                return
            }
        }
    }

    /// Shows `status` as the stream's from `warehouse`, if `owner`'s task is still the peer's stream task: a task
    /// cancelled by a pause may still be ending when a resume starts the next, and must not overwrite its status.
    private func publish(_ status: StreamStatus, of warehouse: String, by owner: StreamOwner) {
        peers.withLock { peers in
            guard peers[warehouse]?.streamOwner === owner else { return }
            peers[warehouse]?.stream = status
        }
    }

    /// One stream from `warehouse`: open, then merge each page as it arrives, until the peer ends it. A
    /// ``StreamReceiver`` reads it on its connection's event loop, reports the opening and each frame to `machine`,
    /// and publishes the status it answers; this returns once the stream is over and its last page merged.
    private func subscribe(
        to warehouse: String, at url: String, machine: inout StreamSubscriptionStateMachine, owner: StreamOwner
    ) async throws {
        try await checkIdentity(of: warehouse, at: url)
        let message = SyncStreamRequest(from: node.config.warehouse, vector: try node.store.reader.versionVector())
        let request = try HTTPClient.Request(
            url: url + "/v1/sync/stream", method: .POST, headers: ["Content-Type": "application/json"],
            body: .bytes(try JSONEncoder().encode(message)))
        let receiver = StreamReceiver(
            url: url + "/v1/sync/stream", machine: machine,
            publish: { [self] action in perform(action, from: warehouse, by: owner) },
            queuePage: { [self] page, done in try queueStreamed(page, from: warehouse, done: done) })
        let task = streamHTTP.execute(request: request, delegate: receiver)
        // The wait for the response's head is bounded; the body then flows for as long as the stream lives (an idle
        // one ends by the client's read timeout).
        let headTimeout = task.eventLoop.scheduleTask(in: .seconds(30)) {
            if !receiver.headReceived { task.fail(reason: HTTPClientError.deadlineExceeded) }
        }
        let ending: Result<Void, any Error>
        do {
            try await withTaskCancellationHandler { try await task.get() } onCancel: { task.cancel() }
            ending = .success(())
        } catch {
            ending = .failure(error)
        }
        headTimeout.cancel()
        await receiver.drained()
        machine = receiver.machine
        try ending.get()
    }

    /// Performs what an open stream's event answers: a status to publish (any other answer comes at the end).
    private func perform(_ action: StreamSubscriptionStateMachine.Action, from warehouse: String, by owner: StreamOwner) {
        if case .publish(let status) = action { publish(status, of: warehouse, by: owner) }
    }

    /// Queues one streamed page at the writer as a pulled one is merged: inflated and decoded here, on the caller's
    /// thread (the stream's event loop; a task for a large page, see ``StreamReceiver``); the writer checks every
    /// operation and its origin's proof and commits it with whatever else is queued, then calls `done` on its
    /// thread with the page's operations (applied, duplicates, refused or unproven).
    ///
    /// - Throws: when `warehouse` was retired since the stream opened, or the page does not inflate or decode; nothing
    ///   is queued then.
    private func queueStreamed(
        _ page: ByteBuffer, from warehouse: String, done: @escaping @Sendable (Result<Int, any Error>) -> Void
    ) throws {
        // Retired since the stream opened: merge nothing more from it. `refreshMembers()` drops a retired peer within
        // a second of the commit that retired it (and cancels this stream); reading the membership here cost a
        // query per page.
        guard peers.withLock({ $0[warehouse] != nil }) else {
            throw SyncFailure("\(warehouse) is retired", kind: .retired)
        }
        let encoded = try OperationPage.inflate(page)
        try node.store.queueMerge(encoded: encoded) { [self] result in
            switch result {
            case .success(.merged(let report)):
                logRefusals(of: report, forwardedBy: warehouse, verb: "streamed from")
                recordLag(of: report, from: warehouse)
                // Operations no proof covered (the peer's certificate was renewed since the last hello, say): a
                // round brings the certificates and pulls them again.
                if !report.unproven.isEmpty { requestRound(with: warehouse) }
                done(.success(report.applied + report.duplicates + report.refused.count + report.unproven.reduce(0) { $0 + $1.count }))
            case .success:
                done(.failure(SyncFailure("unexpected merge outcome")))
            case .failure(let error):
                done(.failure(error))
            }
        }
    }
}
