import AsyncHTTPClient
import CRDT
import CoreMetrics
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Store
import Synchronization
import X509

/// Keeps this node in sync with every active member of the cluster.
///
/// One loop per peer, driven by a ``PeerSyncPolicy``: a node's first round with a peer runs as soon as it knows the
/// peer, a local commit triggers an immediate round (real-time push) with each peer that has no live stream from
/// this node open, failures back off exponentially with jitter. Anti-entropy is gossip: one round per interval, with
/// the next peer in the ring of names (``GossipSchedule``), so a node's idle work grows with the number of peers, not
/// with the number of rounds times peers. Beside the loops, one task per peer keeps a live stream from that peer
/// open once a first round succeeded (`PeerSyncer+Streams.swift`), and this node serves one to each peer that
/// subscribes. A down peer never slows local writes: rounds run beside the writer and only submit merges.
/// Membership is re-read within a second of any commit, so members added or retired on this node (by its admin, or
/// announced by a peer within ``MemberAnnouncementPolicy``) are picked up (or dropped) at run time.
///
/// This file holds the peer loops and their life cycle; a round with a peer is in `PeerSyncer+Round.swift`, its
/// HTTP requests in `+Transport`, the live streams in `+Streams`, what `inv status` and the metrics show in `+Status`.
public final class PeerSyncer: Sendable {
    /// What the syncer knows of one peer, and its loop.
    struct Peer {
        var url: String
        var policy: PeerSyncPolicy
        var vector: VersionVector?
        var lastError: String?
        var lastFailure: PeerFailure?
        var lastSuccessMilliseconds: UInt64?
        /// When the last round succeeded, on the syncer's monotonic clock.
        var lastSuccessAt: Double?
        /// The digest of the membership the peer said it held at the end of the last hello (``HeldMembership``).
        var membershipDigest: String?
        /// Operations merged so far in the round in progress (`nil` between rounds).
        var roundMerged: Int?
        var task: Task<Void, Never>?
        var started = 0
        var finished = 0
        var waiters: [(generation: Int, continuation: CheckedContinuation<RoundReport, Never>)] = []
        var lastReport: RoundReport?
        var bytesReceived = 0
        var bytesSent = 0
        /// From its commit at its origin to its merge here, of the newest operation merged from this peer, by a
        /// round or a stream (milliseconds; the two clocks' skew included).
        var lagMilliseconds: UInt64?
        /// Wakes the peer's loop when a trigger makes a round due earlier.
        let waker = LoopWaker()
        /// The task that keeps a live stream from this peer open (`nil` while paused).
        var streamTask: Task<Void, Never>?
        /// The stream task whose status is shown (a cancelled one may still be ending beside its successor).
        var streamOwner: StreamOwner?
        var stream = StreamStatus()
        /// Ends the stream task's wait between attempts early (on `resume()`).
        let streamWaker = LoopWaker()

        /// The last round succeeded and the live stream, if one was opened, has not failed since. Rounds with a
        /// peer are rare (see ``GossipSchedule``): its stream is what notices first that it went away.
        var isReachable: Bool { policy.isReachable && !(streamTask != nil && stream.lastAttemptFailed) }
    }

    let node: InvNode
    let http: HTTPClient
    /// Presented to peers; also what a round's identity check verifies a peer's certificate with.
    let credentials: ReloadableCredentials
    let logger: Logger
    let peers = Mutex<[String: Peer]>([:])
    let heardVectors = Mutex<[String: VersionVector]>([:])
    /// When each peer last pulled a page from this node (monotonic seconds).
    let pullsServed = Mutex<[String: Double]>([:])
    let pushPolicy = PushPolicy()
    private let manager = Mutex<Task<Void, Never>?>(nil)
    private let pausedFlag = Mutex(false)
    let clock: @Sendable () -> Double
    let lagMetrics: PeerLagMetrics
    /// Hellos this node sent, by what they carried: the whole membership, or its digest alone (``HeldMembership``).
    let wholeHellosSent: Counter
    let digestHellosSent: Counter
    /// Set while this node catches up after a restore (see ``CatchUpGuard``); nil once local writes are allowed.
    let catchUp = Mutex<CatchUpGuard?>(nil)
    /// The (peer, origin, reason) of unproven operations already logged: one line each, not one per page.
    let loggedUnproven = Mutex<Set<String>>([])
    /// The (peer, address, warehouse presented) of certificate mismatches already logged: one line each.
    let loggedIdentityMismatches = Mutex<Set<String>>([])
    /// When each (peer, address) last passed an identity check, on the monotonic clock (see `checkIdentity`).
    let verifiedIdentities = Mutex<[String: Double]>([:])
    /// The live streams this node serves, to peers that subscribed to it.
    let servedStreams = Mutex<[ObjectIdentifier: ServedStream]>([:])
    /// The newest live page built (see ``livePage(after:)``).
    let livePages = Mutex<LivePage?>(nil)
    /// Set when the node shuts down: streams served then end at once.
    let streamsClosed = Mutex(false)
    /// The client of the streams this node subscribes to: its read timeout is a few heartbeats, so a dead link is
    /// noticed without waiting for TCP.
    let streamHTTP: HTTPClient

    /// The cluster CA certificate, against which member certificates are checked.
    var clusterCA: Certificate { credentials.initial.clusterCA }

    /// This node's current certificate.
    var ownCertificate: Certificate { credentials.current.node.certificate }

    /// While paused the node neither starts rounds nor answers peers: as if its WAN link were down. Local work
    /// goes on; `resume()` reconnects and catches up.
    public var isPaused: Bool { pausedFlag.withLock { $0 } }

    /// Also closes the live streams, both those this node serves and those it subscribes to.
    public func pause() {
        pausedFlag.withLock { $0 = true }
        closeStreams()
    }

    /// Reopens the live streams and forces a round with every peer.
    public func resume() {
        pausedFlag.withLock { $0 = false }
        refreshMembers()
        triggerAll(force: true)
    }
    public let pageSize: Int
    let antiEntropyInterval: Double

    /// - Parameters:
    ///   - credentials: the node's certificate, presented to peers; a replacement applies to new connections.
    ///   - clock: monotonic seconds, for backoff, "seconds since last sync" and the rate of catch-up log lines.
    ///   - logger: rounds log failures at debug level, and a long catch-up its progress at info level (at most
    ///     one line per 2 s, see ``CatchUpLog``).
    public init(
        node: InvNode, credentials: ReloadableCredentials, pageSize: Int = SyncProtocol.defaultPageSize,
        clock: @escaping @Sendable () -> Double = PeerSyncer.monotonicSeconds, logger: Logger
    ) {
        self.node = node
        self.credentials = credentials
        self.clock = clock
        lagMetrics = PeerLagMetrics(factory: node.metrics.factory)
        wholeHellosSent = Counter(label: NodeMetrics.Name.hellosSent, dimensions: [("membership", "whole")], factory: node.metrics.factory)
        digestHellosSent = Counter(label: NodeMetrics.Name.hellosSent, dimensions: [("membership", "digest")], factory: node.metrics.factory)
        self.logger = logger
        self.pageSize = pageSize
        antiEntropyInterval = node.config.antiEntropySeconds ?? 10
        var configuration = HTTPClient.Configuration(tlsConfiguration: credentials.clientTLS())
        configuration.timeout = .init(connect: .seconds(SyncFailure.connectTimeoutSeconds), read: .seconds(60))
        // Gossip meets each peer every N intervals (10 s each by default): a connection kept that long spares each
        // round a TLS handshake at both ends, most of an idle node's work.
        configuration.connectionPool = .init(idleTimeout: .seconds(300))
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        var streamConfiguration = configuration
        streamConfiguration.timeout.read = .seconds(SyncProtocol.streamIdleSeconds)
        streamHTTP = HTTPClient(eventLoopGroupProvider: .singleton, configuration: streamConfiguration)
    }

    /// Seconds on a monotonic clock (never jumps with wall-clock changes).
    public static func monotonicSeconds() -> Double { ProcessInfo.processInfo.systemUptime }

    /// Registers this node in the membership and starts the peer loops.
    public func start() async throws {
        try await OriginProofs.prepare(node: node, credentials: credentials.current, logger: logger)
        let me = node.config.warehouse
        let url = try node.config.effectivePeerURL()
        let current = try node.store.reader.members().first { $0.warehouse == me }
        // A retired warehouse stays retired across restarts: only an admin re-admits it (`inv peer readmit`).
        if current == nil || current?.peerURL != url {
            _ = try await node.store.submit(.setMember(warehouse: me, peerURL: url, retired: current?.retired ?? false))
        }
        if try node.store.reader.isCatchingUp() {
            catchUp.withLock { $0 = CatchUpGuard(me: me) }
            logger.warning("restored from a backup: local writes are refused until this node has caught up with every active member")
        }
        // Only this node's own operations trigger a push; merged ones (a catch-up brings millions) are not delivered.
        let events = node.events.subscribe(mergedOperations: false) { event in
            if case .operation(let op) = event { return op.origin.rawValue == me }
            return false
        }
        let task = Task { [self] in
            await withTaskGroup(of: Void.self) { group in
                group.addTask { [self] in
                    // Real time: every local commit wakes every served stream, and the loops of peers without one.
                    for await delivery in events {
                        if case .event(.operation(let op), _) = delivery, op.origin.rawValue == me { localCommitted() }
                    }
                }
                group.addTask { [self] in await gossip() }
                group.addTask { [self] in
                    // Membership changes only by a commit that says so: with none since the last look, nothing is
                    // read (a node taking writes commits every few milliseconds, and reading the members each
                    // second for that was a cost of every write).
                    var lookedAt = node.store.writer.membershipChangeCount
                    while !Task.isCancelled {
                        do { try await Task.sleep(for: .seconds(1)) } catch { break }
                        let changes = node.store.writer.membershipChangeCount
                        if changes != lookedAt {
                            lookedAt = changes
                            refreshMembers()
                        }
                        // A member retired meanwhile no longer holds the catch-up back.
                        await finishCatchUpIfSatisfied()
                    }
                }
                await group.waitForAll()
            }
        }
        manager.withLock { $0 = task }
        refreshMembers()
        await finishCatchUpIfSatisfied()
    }
    /// Stops every loop and the client.
    public func shutdown() async {
        manager.withLock { $0?.cancel() }
        closeServedStreams()
        let tasks = peers.withLock { peers in
            defer { peers.removeAll() }
            return peers.values.flatMap { peer -> [Task<Void, Never>?] in
                for waiter in peer.waiters {
                    waiter.continuation.resume(returning: RoundReport(peer: "", ok: false, pulled: 0, pushed: 0, error: "shutting down", failure: .other))
                }
                return [peer.task, peer.streamTask]
            }
        }
        for task in tasks { task?.cancel() }
        for task in tasks { await task?.value }
        do { try await http.shutdown() } catch { logger.debug("peer client shutdown: \(error)") }
        do { try await streamHTTP.shutdown() } catch { logger.debug("peer stream client shutdown: \(error)") }
    }

    /// Starts loops for new active members and stops those of retired or removed ones.
    func refreshMembers() {
        let members: [MemberRecord]
        do { members = try node.store.reader.members() } catch {
            logger.error("cannot read members: \(error)")
            return
        }
        let me = node.config.warehouse
        let active = Dictionary(members.filter { $0.warehouse != me && !$0.retired }.map { ($0.warehouse, $0.peerURL) }) { a, _ in a }
        var toStart: [String] = []
        var stopped: [Task<Void, Never>] = []
        peers.withLock { peers in
            for (warehouse, peer) in peers where active[warehouse] == nil {
                if let task = peer.task { stopped.append(task) }
                if let task = peer.streamTask { stopped.append(task) }
                for waiter in peer.waiters {
                    waiter.continuation.resume(returning: RoundReport(peer: warehouse, ok: false, pulled: 0, pushed: 0, error: "retired", failure: .retired))
                }
                peers[warehouse] = nil
            }
            for (warehouse, url) in active {
                if var existing = peers[warehouse] {
                    existing.url = url
                    peers[warehouse] = existing
                } else {
                    // Anti-entropy rounds are the gossip's to trigger (see `gossip()`): none of the peer's own.
                    peers[warehouse] = Peer(url: url, policy: PeerSyncPolicy(antiEntropyInterval: .infinity, now: clock()))
                    toStart.append(warehouse)
                }
            }
        }
        for task in stopped { task.cancel() }
        // The streams this node serves to retired members end too (a stream's subscriber need not be known here
        // yet: only an explicit retirement ends it).
        let retired = Set(members.filter(\.retired).map(\.warehouse))
        for stream in servedStreams.withLock({ Array($0.values) }) where retired.contains(stream.peer) { stream.close() }
        for warehouse in toStart {
            let task = Task { [self] in await loop(warehouse) }
            peers.withLock { $0[warehouse]?.task = task }
        }
        if !isPaused { openStreams() }
    }

    /// Wakes every peer loop.
    public func triggerAll(force: Bool = false) {
        trigger(force: force) { _ in true }
    }

    /// A local commit: every served stream sends it, and a round with each peer that has no stream from this node
    /// open pushes it.
    func localCommitted() {
        buildNextLivePage()
        let served = servedStreams.withLock { Array($0.values) }
        for stream in served { stream.waker.wake() }
        let subscribed = Set(served.map(\.peer))
        trigger(force: false) { !subscribed.contains($0) }
    }

    /// Makes a round with `warehouse` due now (unless it is in backoff).
    func requestRound(with warehouse: String) {
        trigger(force: false) { $0 == warehouse }
    }

    private func trigger(force: Bool, where wanted: (String) -> Bool) {
        let now = clock()
        let wakers = peers.withLock { peers in
            var wakers: [LoopWaker] = []
            for key in peers.keys where wanted(key) {
                peers[key]?.policy.trigger(now: now, force: force)
                if let waker = peers[key]?.waker { wakers.append(waker) }
            }
            return wakers
        }
        for waker in wakers { waker.wake() }
    }

    /// Runs a round with every active peer now (ignoring backoff) and waits for all of them.
    ///
    /// - Parameter timeout: how long to wait for each peer's round; a peer still in its round then is reported as
    ///   timed out (the round goes on in the background), so one hung peer does not hold back the others' reports.
    public func syncNow(timeout: Duration? = nil) async -> [RoundReport] {
        refreshMembers()
        let names = peers.withLock { Array($0.keys) }.sorted()
        return await withTaskGroup(of: RoundReport.self) { group in
            for name in names {
                group.addTask { [self] in
                    let round = Task { await self.forcedRound(name) }
                    guard let timeout else { return await round.value }
                    let waited = "timed out after \(timeout.components.seconds) s waiting for its round (it goes on in the background)"
                    return await FirstAnswer.race(round, timeout: timeout) {
                        RoundReport(peer: name, ok: false, pulled: 0, pushed: 0, error: waited, failure: .stillSyncing)
                    }
                }
            }
            var reports: [RoundReport] = []
            for await report in group { reports.append(report) }
            return reports.sorted { $0.peer < $1.peer }
        }
    }

    /// Forces a round with `name` and waits for its report.
    private func forcedRound(_ name: String) async -> RoundReport {
        await withCheckedContinuation { continuation in
            let waker = peers.withLock { peers -> LoopWaker? in
                guard var peer = peers[name] else { return nil }
                peer.waiters.append((peer.started + 1, continuation))
                peer.policy.trigger(now: clock(), force: true)
                peers[name] = peer
                return peer.waker
            }
            waker?.wake()
            if waker == nil {
                continuation.resume(returning: RoundReport(peer: name, ok: false, pulled: 0, pushed: 0, error: "not a peer", failure: .other))
            }
        }
    }

    /// Anti-entropy: every interval (jittered), a round with the next peer in the ring of names (see
    /// ``GossipSchedule``). Nothing while paused.
    private func gossip() async {
        var schedule = GossipSchedule(interval: antiEntropyInterval, now: clock(), own: node.config.warehouse)
        var random = SystemRandomNumberGenerator()
        while !Task.isCancelled {
            let wait = schedule.nextRound - clock()
            if wait > 0 {
                do { try await Task.sleep(for: .seconds(wait)) } catch { return }
                continue
            }
            let candidates = peers.withLock { peers in
                peers.map { name, peer in
                    GossipSchedule.Candidate(
                        peer: name, lastSuccess: peer.lastSuccessAt,
                        isAvailable: peer.policy.failures == 0 && !peer.policy.roundInProgress)
                }
            }
            let jitter = BackoffSchedule.drawJitter(using: &random)
            if let chosen = schedule.roundDue(now: clock(), candidates: isPaused ? [] : candidates, jitter: jitter) {
                requestRound(with: chosen)
            }
        }
    }

    // MARK: - The loop of one peer

    /// Between rounds the loop waits for the policy's due time or a trigger's wake-up, so a real-time push starts as
    /// soon as a commit triggers it.
    private func loop(_ warehouse: String) async {
        guard let waker = peers.withLock({ $0[warehouse]?.waker }) else { return }
        while !Task.isCancelled {
            let now = clock()
            guard let action = peers.withLock({ $0[warehouse]?.policy.nextAction(now: now) }) else { return }
            switch action {
            case .syncNow:
                guard let (url, generation) = peers.withLock({ peers -> (String, Int)? in
                    guard var peer = peers[warehouse] else { return nil }
                    peer.started += 1
                    peer.policy.roundStarted(now: now)
                    peers[warehouse] = peer
                    return (peer.url, peer.started)
                }) else { return }
                let report = await round(warehouse: warehouse, url: url)
                let end = clock()
                var opensStream = false
                let ready = peers.withLock { peers -> [CheckedContinuation<RoundReport, Never>] in
                    guard var peer = peers[warehouse] else { return [] }
                    if report.ok {
                        opensStream = peer.streamTask == nil
                        peer.policy.roundSucceeded(now: end)
                        peer.lastSuccessMilliseconds = SystemClock().nowMilliseconds()
                        peer.lastSuccessAt = end
                        peer.lastError = nil
                        peer.lastFailure = nil
                    } else {
                        var random = SystemRandomNumberGenerator()
                        peer.policy.roundFailed(now: end, jitter: BackoffSchedule.drawJitter(using: &random))
                        peer.lastError = report.error
                        peer.lastFailure = report.failure
                    }
                    peer.finished = generation
                    peer.lastReport = report
                    let due = peer.waiters.filter { $0.generation <= generation }
                    peer.waiters.removeAll { $0.generation <= generation }
                    peers[warehouse] = peer
                    return due.map(\.continuation)
                }
                for continuation in ready { continuation.resume(returning: report) }
                // The first round brought the peer's certificates: its stream's pages can be proven now.
                if opensStream && !isPaused { openStreams() }
            case .waitUntil(let deadline):
                // No deadline (`.infinity`) until a trigger: wake hourly all the same, and ask the policy again.
                await waker.wait(seconds: min(max(deadline - clock(), 0.001), 3_600))
            }
        }
    }
}
