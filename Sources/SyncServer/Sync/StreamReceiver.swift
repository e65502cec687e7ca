import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import Store
import Synchronization

/// Receives the body of one live stream from a peer on its connection's event loop, and queues each page at the
/// writer from there.
///
/// A page's path is event loop → writer → nothing: the event loop that decrypted the bytes splits them into frames,
/// inflates and decodes each page and queues it; the writer calls back once it committed the merge, and the
/// callback only records the outcome. No task is woken per frame (reading the body from a task woke one to take
/// each chunk and again for each merge's answer: about a quarter of a subscriber's thread switches). A large page (a
/// catch-up's, over ``inlinePageBytes`` compressed) is inflated and decoded by a task instead, the connection not
/// read meanwhile, so that the event loop's other connections do not wait for it.
///
/// Back-pressure: while ``MergeWindow/limit`` pages of the stream are queued at the writer and not yet merged, the
/// connection is not read (the future `didReceiveBodyPart` answers completes when one is merged), so a subscriber
/// whose writer falls behind slows its own stream only, and holds at most that many pages, plus those of one
/// chunk, in memory.
///
/// Invariants: pages are queued in the order they arrived (one event loop; one queue client, which keeps the order
/// of its submissions), so each continues the chain its predecessor extended; after the first failure (a frame or
/// page that does not decode, a merge that fails) nothing more is queued and the request fails with that error;
/// every promise of a held read is completed.
final class StreamReceiver: HTTPClientResponseDelegate, Sendable {
    typealias Response = Void

    /// Queues one page at the writer; calls its second argument on the writer's thread with the operations merged
    /// (applied, duplicates, refused or unproven) or the merge's failure. Throws, queuing nothing, when the page
    /// is not to be merged or does not decode.
    typealias QueuePage = @Sendable (ByteBuffer, @escaping @Sendable (Result<Int, any Error>) -> Void) throws -> Void

    /// The pages of one stream queued at the writer and not merged yet: a pure count of what may be read.
    struct MergeWindow: Sendable, Equatable {
        /// Pages queued at once before the connection is no longer read. More than one, so that the writer can take
        /// the next page of a catch-up into the same group commit while the event loop reads and decodes it.
        static let limit = 4

        private(set) var queued = 0

        /// Whether the connection must not be read until a page is merged.
        var isFull: Bool { queued >= Self.limit }

        /// A page is about to be queued (counted first: its answer may come before the queuing returns).
        mutating func pageQueued() { queued += 1 }

        /// A page was merged, failed, or was not queued after all.
        mutating func pageMerged() {
            precondition(queued > 0, "a merge answered that was never queued")
            queued -= 1
        }
    }

    private struct State {
        var machine: StreamSubscriptionStateMachine
        var decoder = StreamFrameDecoder(maxFrameBytes: SyncProtocol.maxFrameBytes)
        var window = MergeWindow()
        /// The read held back until a page is merged.
        var heldRead: EventLoopPromise<Void>?
        /// Whoever waits for the last queued page to be merged.
        var drainWaiter: CheckedContinuation<Void, Never>?
        /// Chunks of large pages being inflated and decoded off the event loop, not queued yet.
        var decoding = 0
        /// The stream's first failure: the one its request fails with.
        var failure: (any Error)?
        var task: HTTPClient.Task<Void>?
        var headReceived = false
        /// A refusal's status and the start of its body, read for its error.
        var refusal: (status: UInt, body: ByteBuffer)?

        var isDrained: Bool { window.queued == 0 && decoding == 0 }

        /// Records `error` unless a failure came first; whether it was the first.
        mutating func recordFailure(_ error: any Error) -> Bool {
            guard failure == nil else { return false }
            failure = error
            return true
        }
    }

    private let url: String
    private let state: Mutex<State>
    private let publish: @Sendable (StreamSubscriptionStateMachine.Action) -> Void
    private let queuePage: QueuePage

    /// - Parameters:
    ///   - url: the stream's URL, for a refusal's error.
    ///   - machine: the subscription's machine, connecting; ``machine`` answers it once the stream is over.
    ///   - publish: performs what the machine answers to each event, under the receiver's lock (so that statuses
    ///     are shown in the order the machine answered them); it must not call back into the receiver.
    ///   - queuePage: queues a page at the writer.
    init(
        url: String, machine: StreamSubscriptionStateMachine,
        publish: @escaping @Sendable (StreamSubscriptionStateMachine.Action) -> Void, queuePage: @escaping QueuePage
    ) {
        self.url = url
        state = Mutex(State(machine: machine))
        self.publish = publish
        self.queuePage = queuePage
    }

    /// The subscription's machine, with every event of the stream reported.
    var machine: StreamSubscriptionStateMachine { state.withLock { $0.machine } }

    /// Whether the peer answered the request's head.
    var headReceived: Bool { state.withLock { $0.headReceived } }

    /// Returns once no page of the stream is queued at the writer: a new stream then starts from a vector that
    /// holds everything this one brought.
    func drained() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state in
                if state.isDrained { return true }
                state.drainWaiter = waiter
                return false
            }
            if done { waiter.resume() }
        }
    }

    // MARK: - HTTPClientResponseDelegate (on the task's event loop)

    func didReceiveHead(task: HTTPClient.Task<Void>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        state.withLock { state in
            state.task = task
            state.headReceived = true
            guard head.status == .ok else {
                state.refusal = (head.status.code, ByteBuffer())
                return
            }
            publish(state.machine.opened(sinceMilliseconds: SystemClock().nowMilliseconds()))
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Void>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        let frames: [StreamFrame]
        do {
            frames = try state.withLock { state throws -> [StreamFrame] in
                if let failure = state.failure { throw failure }
                if state.refusal != nil {
                    var part = buffer
                    if state.refusal!.body.readableBytes < 64 << 10 { state.refusal!.body.writeBuffer(&part) }
                    return []
                }
                state.decoder.append(buffer)
                var frames: [StreamFrame] = []
                while let frame = try state.decoder.next() { frames.append(frame) }
                return frames
            }
        } catch {
            return task.eventLoop.makeFailedFuture(fail(error))
        }
        let large = frames.contains { if case .page(let page) = $0 { page.readableBytes > Self.inlinePageBytes } else { false } }
        guard large else {
            do { try queue(frames) } catch { return task.eventLoop.makeFailedFuture(fail(error)) }
            return heldRead(on: task.eventLoop) ?? task.eventLoop.makeSucceededVoidFuture()
        }
        // A catch-up page may hold tens of thousands of operations: inflated and decoded on the event loop it would
        // stall every other connection there. The connection is not read meanwhile, so the order holds.
        let done = task.eventLoop.makePromise(of: Void.self)
        state.withLock { $0.decoding += 1 }
        Task {
            do {
                try queue(frames)
                if let held = heldRead(on: task.eventLoop) { done.completeWith(held) } else { done.succeed() }
            } catch {
                done.fail(fail(error))
            }
            let drainWaiter = state.withLock { state in
                state.decoding -= 1
                return state.isDrained ? state.drainWaiter.take() : nil
            }
            drainWaiter?.resume()
        }
        return done.futureResult
    }

    /// Compressed pages up to this size are inflated, decoded and queued on the event loop (a live page is a few
    /// hundred bytes); larger ones off it.
    static let inlinePageBytes = 16 << 10

    /// Reports each frame to the machine and queues each page, in order.
    private func queue(_ frames: [StreamFrame]) throws {
        for frame in frames {
            switch frame {
            case .heartbeat:
                state.withLock { publish($0.machine.frameReceived(.heartbeat)) }
            case .page(let page):
                state.withLock { state in
                    publish(state.machine.frameReceived(.page(bytes: page.readableBytes)))
                    state.window.pageQueued()
                }
                // Outside the lock: the answer may come at once, on this thread (a closed queue).
                do {
                    try queuePage(page) { [self] in merged($0) }
                } catch {
                    state.withLock { $0.window.pageMerged() }
                    throw error
                }
            }
        }
    }

    /// A read held back until a page is merged, if the window is full now (a merge answered before this found no
    /// read to resume).
    private func heldRead(on eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        state.withLock { state in
            guard state.window.isFull, state.failure == nil else { return nil }
            let promise = eventLoop.makePromise(of: Void.self)
            state.heldRead = promise
            return promise.futureResult
        }
    }

    /// Records `error` as the stream's failure, unless one came first; answers the first.
    private func fail(_ error: any Error) -> any Error {
        state.withLock { state in
            _ = state.recordFailure(error)
            return state.failure!
        }
    }

    func didReceiveError(task: HTTPClient.Task<Void>, _ error: any Error) {}

    func didFinishRequest(task: HTTPClient.Task<Void>) throws {
        try state.withLock { state throws in
            if let refusal = state.refusal {
                throw SyncFailure.refusal(url, status: refusal.status, body: refusal.body)
            }
            try state.decoder.finish()
        }
    }

    // MARK: - The writer's answers (on the writer's thread)

    private func merged(_ outcome: Result<Int, any Error>) {
        let (heldRead, failure, drainWaiter, taskToFail) = state.withLock { state in
            state.window.pageMerged()
            var taskToFail: HTTPClient.Task<Void>?
            switch outcome {
            case .success(let operations):
                publish(state.machine.pageMerged(operations: operations))
            case .failure(let error):
                if state.recordFailure(error) { taskToFail = state.task }
            }
            let heldRead = state.window.isFull && state.failure == nil ? nil : state.heldRead.take()
            return (heldRead, state.failure, state.isDrained ? state.drainWaiter.take() : nil, taskToFail)
        }
        if let failure {
            taskToFail?.fail(reason: failure)
            heldRead?.fail(failure)
        } else {
            heldRead?.succeed()
        }
        drainWaiter?.resume()
    }
}
