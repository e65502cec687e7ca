import AsyncHTTPClient
import CRDT
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
/// One loop per peer, driven by a ``PeerSyncPolicy``: a local commit triggers an immediate round (real-time push),
/// anti-entropy rounds run at an interval, failures back off exponentially with jitter. A down peer never slows
/// local writes: rounds run beside the writer and only submit merges. Membership is re-read every second, so
/// members added or retired on this node (by its admin, or announced by a peer within ``MemberAnnouncementPolicy``)
/// are picked up (or dropped) at run time.
public final class PeerSyncer: Sendable {
    /// The outcome of one round with one peer.
    public struct RoundReport: Codable, Sendable {
        public var peer: String
        public var ok: Bool
        public var pulled: Int
        public var pushed: Int
        public var error: String?
    }

    /// What `inv status` shows of a peer.
    public struct PeerStatus: Codable, Sendable {
        public var warehouse: String
        public var peerURL: String
        public var reachable: Bool
        public var lastSync: String?
        /// Operations this node holds that the peer lacked when last heard from.
        public var operationsBehind: UInt64?
        /// Operations the peer holds that this node lacks.
        public var operationsAhead: UInt64?
        public var lastError: String?
        /// Operation-page bytes received from and sent to this peer since start (compressed, as on the wire).
        public var bytesReceived: Int?
        public var bytesSent: Int?
        /// Operations merged from this peer so far in the round in progress; absent when no round is running.
        public var roundMerged: Int?

        enum CodingKeys: String, CodingKey {
            case warehouse, reachable
            case bytesReceived = "bytes_received"
            case bytesSent = "bytes_sent"
            case peerURL = "peer_url"
            case lastSync = "last_sync"
            case operationsBehind = "operations_behind"
            case operationsAhead = "operations_ahead"
            case lastError = "last_error"
            case roundMerged = "round_merged"
        }
    }

    private struct Peer {
        var url: String
        var policy: PeerSyncPolicy
        var vector: VersionVector?
        var lastError: String?
        var lastSuccessMilliseconds: UInt64?
        /// When the last round succeeded, on the syncer's monotonic clock.
        var lastSuccessAt: Double?
        /// Operations merged so far in the round in progress (`nil` between rounds).
        var roundMerged: Int?
        var task: Task<Void, Never>?
        var started = 0
        var finished = 0
        var waiters: [(generation: Int, continuation: CheckedContinuation<RoundReport, Never>)] = []
        var lastReport: RoundReport?
        var bytesReceived = 0
        var bytesSent = 0
        /// Wakes the peer's loop when a trigger makes a round due earlier.
        let waker = LoopWaker()
    }

    private let node: InvNode
    private let http: HTTPClient
    /// Presented to peers; also what a round's identity check verifies a peer's certificate with.
    private let credentials: ReloadableCredentials
    private let logger: Logger
    private let peers = Mutex<[String: Peer]>([:])
    private let heardVectors = Mutex<[String: VersionVector]>([:])
    /// When each peer last pulled a page from this node (monotonic seconds).
    private let pullsServed = Mutex<[String: Double]>([:])
    private let pushPolicy = PushPolicy()
    private let manager = Mutex<Task<Void, Never>?>(nil)
    private let pausedFlag = Mutex(false)
    private let clock: @Sendable () -> Double
    private let lagMetrics: PeerLagMetrics
    /// Set while this node catches up after a restore (see ``CatchUpGuard``); nil once local writes are allowed.
    private let catchUp = Mutex<CatchUpGuard?>(nil)
    /// The (peer, origin, reason) of unproven operations already logged: one line each, not one per page.
    private let loggedUnproven = Mutex<Set<String>>([])

    /// The cluster CA certificate, against which member certificates are checked.
    var clusterCA: Certificate { credentials.initial.clusterCA }

    /// This node's current certificate.
    var ownCertificate: Certificate { credentials.current.node.certificate }

    /// Logs operations a page carried that no valid head of their origin covered: once per peer, origin and
    /// reason, naming the peer that forwarded them (a forgery is a warning, a lack of proof a notice).
    func logUnproven(_ unproven: [MergeReport.Unproven], forwardedBy peer: String, verb: String) {
        for entry in unproven {
            let key = "\(peer)\u{0}\(entry.origin)\u{0}\(entry.forgery)"
            guard loggedUnproven.withLock({ $0.insert(key).inserted }) else { continue }
            let line = "refused \(entry.count) operations of \(entry.origin) \(verb) \(peer): \(entry.reason)"
            if entry.forgery {
                logger.warning("\(line); \(peer) forwarded operations \(entry.origin) never made")
            } else {
                logger.notice("\(line)")
            }
        }
    }

    /// While paused the node neither starts rounds nor answers peers: as if its WAN link were down. Local work
    /// goes on; `resume()` reconnects and catches up.
    public var isPaused: Bool { pausedFlag.withLock { $0 } }

    public func pause() { pausedFlag.withLock { $0 = true } }

    public func resume() {
        pausedFlag.withLock { $0 = false }
        triggerAll(force: true)
    }
    public let pageSize: Int
    private let antiEntropyInterval: Double

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
        self.logger = logger
        self.pageSize = pageSize
        antiEntropyInterval = node.config.antiEntropySeconds ?? 10
        var configuration = HTTPClient.Configuration(tlsConfiguration: credentials.clientTLS())
        configuration.timeout = .init(connect: .seconds(SyncFailure.connectTimeoutSeconds), read: .seconds(60))
        configuration.connectionPool = .init(idleTimeout: .seconds(30))
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
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
                    // Real time: every local commit wakes every peer loop.
                    for await delivery in events {
                        if case .event(.operation(let op)) = delivery, op.origin.rawValue == me { triggerAll() }
                    }
                }
                group.addTask { [self] in
                    while !Task.isCancelled {
                        refreshMembers()
                        // A member retired meanwhile no longer holds the catch-up back.
                        await finishCatchUpIfSatisfied()
                        do { try await Task.sleep(for: .seconds(1)) } catch { break }
                    }
                }
                await group.waitForAll()
            }
        }
        manager.withLock { $0 = task }
        refreshMembers()
        await finishCatchUpIfSatisfied()
    }

    /// Ends the catch-up (the writer accepts local operations again) once ``CatchUpGuard`` is satisfied.
    func finishCatchUpIfSatisfied() async {
        guard let state = catchUp.withLock({ $0 }) else { return }
        let active: Set<String>
        do { active = Set(try node.store.reader.members().filter { !$0.retired }.map(\.warehouse)) } catch {
            logger.error("cannot read members: \(error)")
            return
        }
        guard state.isSatisfied(activeMembers: active) else { return }
        do {
            _ = try await node.store.submit(.finishCatchUp)
            catchUp.withLock { $0 = nil }
            let with = state.caughtUpWith.sorted().joined(separator: ", ")
            logger.notice("caught up after the restore\(with.isEmpty ? " (no other member)" : " with \(with)"): local writes are accepted again")
        } catch {
            logger.error("cannot end the catch-up: \(error)")
        }
    }

    /// Stops every loop and the client.
    public func shutdown() async {
        manager.withLock { $0?.cancel() }
        let tasks = peers.withLock { peers in
            defer { peers.removeAll() }
            return peers.values.map { peer -> Task<Void, Never>? in
                for waiter in peer.waiters {
                    waiter.continuation.resume(returning: RoundReport(peer: "", ok: false, pulled: 0, pushed: 0, error: "shutting down"))
                }
                return peer.task
            }
        }
        for task in tasks { task?.cancel() }
        for task in tasks { await task?.value }
        do { try await http.shutdown() } catch { logger.debug("peer client shutdown: \(error)") }
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
                for waiter in peer.waiters {
                    waiter.continuation.resume(returning: RoundReport(peer: warehouse, ok: false, pulled: 0, pushed: 0, error: "retired"))
                }
                peers[warehouse] = nil
            }
            for (warehouse, url) in active {
                if var existing = peers[warehouse] {
                    existing.url = url
                    peers[warehouse] = existing
                } else {
                    peers[warehouse] = Peer(
                        url: url, policy: PeerSyncPolicy(antiEntropyInterval: antiEntropyInterval, now: clock()))
                    toStart.append(warehouse)
                }
            }
        }
        for task in stopped { task.cancel() }
        for warehouse in toStart {
            let task = Task { [self] in await loop(warehouse) }
            peers.withLock { $0[warehouse]?.task = task }
        }
    }

    /// Wakes every peer loop (after a local commit).
    public func triggerAll(force: Bool = false) {
        let now = clock()
        let wakers = peers.withLock { peers in
            for key in peers.keys {
                peers[key]?.policy.trigger(now: now, force: force)
            }
            return peers.values.map(\.waker)
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
                        RoundReport(peer: name, ok: false, pulled: 0, pushed: 0, error: waited)
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
                continuation.resume(returning: RoundReport(peer: name, ok: false, pulled: 0, pushed: 0, error: "not a peer"))
            }
        }
    }

    /// Records the vector a peer announced (hello or pull), for status.
    func heard(from warehouse: String, vector: VersionVector) {
        heardVectors.withLock { $0[warehouse] = vector }
    }

    /// A peer pulled a page from this node (see ``PushPolicy``).
    func servedPull(to warehouse: String) {
        let now = clock()
        pullsServed.withLock { $0[warehouse] = now }
    }

    public func status() -> [PeerStatus] {
        let lags = Dictionary(lags().map { ($0.peer, $0) }) { a, _ in a }
        return peers.withLock { peers in
            peers.map { name, peer in
                PeerStatus(
                    warehouse: name, peerURL: peer.url, reachable: peer.policy.isReachable,
                    lastSync: peer.lastSuccessMilliseconds.map { API.timestamp(milliseconds: $0) },
                    operationsBehind: lags[name]?.behind, operationsAhead: lags[name]?.ahead, lastError: peer.lastError,
                    bytesReceived: peer.bytesReceived, bytesSent: peer.bytesSent, roundMerged: peer.roundMerged)
            }.sorted { $0.warehouse < $1.warehouse }
        }
    }

    /// The version vector each peer last announced (or was last known to hold): what the cluster holds that this
    /// node may not have merged yet, for the change feed's `waiting_for`.
    func announcedVectors() -> [VersionVector] {
        let heard = heardVectors.withLock { $0 }
        return peers.withLock { peers in peers.compactMap { name, peer in peer.vector ?? heard[name] } }
    }

    /// How far apart this node and each peer are, by the vector each peer last announced.
    func lags() -> [PeerLag] {
        let mine: VersionVector
        do { mine = try node.store.reader.versionVector() } catch { mine = VersionVector() }
        let heard = heardVectors.withLock { $0 }
        let now = clock()
        return peers.withLock { peers in
            peers.map { name, peer in
                let vector = peer.vector ?? heard[name]
                return PeerLag(
                    peer: name, behind: vector.map { Self.count(mine, beyond: $0) }, ahead: vector.map { Self.count($0, beyond: mine) },
                    secondsSinceSync: peer.lastSuccessAt.map { max(now - $0, 0) })
            }.sorted { $0.peer < $1.peer }
        }
    }

    /// Brings the per-peer lag gauges (`inv_peer_*`) up to date; `GET /metrics` calls it before rendering.
    public func recordLagMetrics() {
        lagMetrics.record(lags())
    }

    /// The operations `vector` holds beyond `other`, saturating at `UInt64.max`.
    ///
    /// One of the vectors is a peer's: its entries, each checked (see ``SyncProtocol/versionVector(_:)``), may still
    /// add up past 2^64, and this number is only displayed, so it saturates instead of trapping.
    static func count(_ vector: VersionVector, beyond other: VersionVector) -> UInt64 {
        vector.entries.reduce(0) { total, entry in
            let gap = entry.value > other[entry.key] ? entry.value - other[entry.key] : 0
            let (sum, overflow) = total.addingReportingOverflow(gap)
            return overflow ? .max : sum
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
                let ready = peers.withLock { peers -> [CheckedContinuation<RoundReport, Never>] in
                    guard var peer = peers[warehouse] else { return [] }
                    if report.ok {
                        peer.policy.roundSucceeded(now: end)
                        peer.lastSuccessMilliseconds = SystemClock().nowMilliseconds()
                        peer.lastSuccessAt = end
                        peer.lastError = nil
                    } else {
                        var random = SystemRandomNumberGenerator()
                        peer.policy.roundFailed(now: end, jitter: BackoffSchedule.drawJitter(using: &random))
                        peer.lastError = report.error
                    }
                    peer.finished = generation
                    peer.lastReport = report
                    let due = peer.waiters.filter { $0.generation <= generation }
                    peer.waiters.removeAll { $0.generation <= generation }
                    peers[warehouse] = peer
                    return due.map(\.continuation)
                }
                for continuation in ready { continuation.resume(returning: report) }
            case .waitUntil(let deadline):
                await waker.wait(seconds: max(deadline - clock(), 0.001))
            }
        }
    }

    /// One round: hello, pull what we lack, push what the peer lacks.
    func round(warehouse: String, url: String) async -> RoundReport {
        var pulled = 0
        var pushed = 0
        if isPaused { return RoundReport(peer: warehouse, ok: false, pulled: 0, pushed: 0, error: "sync is paused on this node") }
        peers.withLock { $0[warehouse]?.roundMerged = 0 }
        defer { peers.withLock { $0[warehouse]?.roundMerged = nil } }
        do {
            let me = node.config.warehouse
            try await checkIdentity(of: warehouse, at: url)
            let hello = SyncHello(
                from: me, vector: try node.store.reader.versionVector(), members: try node.store.reader.members(),
                certificates: try OriginProofs.base64Certificates(of: node, own: credentials.current.node.certificate),
                decisions: try node.store.reader.membershipDecisions())
            let reply: SyncHello = try await postJSON(url + "/v1/sync/hello", hello)
            guard reply.from == warehouse else {
                throw SyncFailure("\(url) answers as \(reply.from), expected \(warehouse)")
            }
            // Retirements and re-admissions count only with the cluster CA's signature (the writer checks it): a
            // peer's word alone retires no one, but a retirement signed by the CA reaches this node through any peer.
            if let decisions = reply.decisions, !decisions.isEmpty {
                _ = try await node.store.submit(.decideMembership(Array(decisions.prefix(SyncProtocol.maxMembers))))
            }
            if let own = try node.store.reader.members().first(where: { $0.warehouse == me }), own.retired {
                throw SyncFailure("this warehouse was retired from the cluster on \(API.timestamp(own.timestamp))")
            }
            var peerVector = try reply.versionVector()
            let announcedVector = peerVector
            // A reply is not authenticated as the hello's sender is (by the mutual-TLS handshake on our listener):
            // only unknown members' addresses are taken from it, as hints.
            _ = try await node.store.submit(.announcedMembers(by: nil, Array(reply.members.prefix(SyncProtocol.maxMembers))))
            try await OriginProofs.take(reply.certificates, clusterCA: clusterCA, into: node)
            peers.withLock { $0[warehouse]?.vector = peerVector }

            // Pull: pages of what we lack, until the peer says there is no more. The next page is requested while
            // this one merges, so the peer's reading and encoding overlap our writing. The request's vector is a
            // cursor: advanced past every operation received, also beyond a gap, so paging never repeats itself.
            var mine = try node.store.reader.versionVector()
            var catchUpLog = CatchUpLog()
            var cursor = mine
            var next: Task<FetchedPage, any Error>? = fetchPage(url: url, from: me, cursor: cursor)
            defer { next?.cancel() }
            while let fetching = next {
                let fetched = try await fetching.value
                next = nil
                peers.withLock { $0[warehouse]?.bytesReceived += fetched.page.readableBytes }
                // The page's highest sequences advance the cursor; a peer that does not announce them has its page
                // decoded here for them. Either way the writer decodes and checks every operation.
                let encoded: [UInt8]
                let highest: [ReplicaID: UInt64]
                if let announced = fetched.highest {
                    encoded = try OperationPage.inflate(fetched.page)
                    highest = announced
                } else {
                    let decoded = try OperationPage.decodeKeepingBytes(fetched.page)
                    encoded = decoded.encoded
                    highest = OperationPage.highest(of: decoded.operations)
                }
                // Retired since this loop started (loops follow membership only every second): merge nothing more.
                if try node.store.reader.members().contains(where: { $0.warehouse == warehouse && $0.retired }) {
                    throw SyncFailure("\(warehouse) is retired")
                }
                if fetched.more && !highest.isEmpty {
                    for (origin, sequence) in highest { cursor.advance(origin, to: sequence) }
                    next = fetchPage(url: url, from: me, cursor: cursor)
                }
                if !highest.isEmpty {
                    guard case .merged(let report) = try await node.store.submitMerge(encoded: encoded) else {
                        throw SyncFailure("unexpected merge outcome")
                    }
                    pulled += report.applied
                    for refusal in report.refused.prefix(20) {
                        logger.warning("refused operation \(refusal.origin):\(refusal.sequence) from \(warehouse): \(refusal.reason)")
                    }
                    logUnproven(report.unproven, forwardedBy: warehouse, verb: "pulled from")
                    mine = try node.store.reader.versionVector()
                    peers.withLock { $0[warehouse]?.roundMerged = pulled }
                    let behind = Self.count(peerVector, beyond: mine)
                    if catchUpLog.pageMerged(behind: behind, now: clock()) {
                        logger.info("catching up", metadata: ["peer": "\(warehouse)", "merged": "\(pulled)", "behind": "\(behind)"])
                    }
                }
            }
            if catchUpLog.loggedAny {
                logger.info("caught up", metadata: [
                    "peer": "\(warehouse)", "merged": "\(pulled)", "behind": "\(Self.count(peerVector, beyond: mine))",
                ])
            }
            if catchUp.withLock({ $0 != nil }) {
                // Every operation the peer held when it answered is here now: it counts for the catch-up if it
                // announced none of ours beyond what we hold.
                let replica = node.store.replica
                let weHold = try node.store.reader.versionVector()[replica]
                let state = catchUp.withLock { state -> CatchUpGuard? in
                    state?.pullCompleted(with: warehouse, peerHolds: announcedVector[replica], weHold: weHold)
                    return state
                }
                if let state {
                    let active = Set(try node.store.reader.members().filter { !$0.retired }.map(\.warehouse))
                    let waiting = state.waitingFor(activeMembers: active)
                    if !waiting.isEmpty {
                        logger.info("catch-up after the restore: synced with \(warehouse); still waiting for \(waiting.joined(separator: ", "))")
                    }
                }
                await finishCatchUpIfSatisfied()
            }

            // Push: pages of what the peer lacks, by the vector it announced, unless it is catching up by pulling.
            let deficit = Self.count(mine, beyond: peerVector)
            let lastPull = pullsServed.withLock { $0[warehouse] }
            if !pushPolicy.shouldPush(deficit: deficit, pageSize: pageSize, lastPullFromPeer: lastPull, now: clock()) {
                logger.debug("not pushing \(deficit) operations to \(warehouse): it is pulling them")
                return RoundReport(peer: warehouse, ok: true, pulled: pulled, pushed: 0, error: nil)
            }
            while true {
                let (page, sent, more) = try OperationPage.encodeProven(from: node.store.reader, missingFrom: peerVector, limit: pageSize)
                if sent.isEmpty { break }
                var request = HTTPClientRequest(url: url + "/v1/sync/push")
                request.method = .POST
                request.headers.add(name: "Content-Type", value: SyncProtocol.pageContentType)
                request.headers.add(name: "x-inv-from", value: me)
                peers.withLock { $0[warehouse]?.bytesSent += page.readableBytes }
                request.body = .bytes(page)
                let response = try await http.execute(request, timeout: .seconds(120))
                let body = try await response.body.collect(upTo: 1 << 20)
                guard response.status == .ok else { throw SyncFailure("push answered \(response.status.code): \(String(buffer: body))") }
                let result = try JSONDecoder().decode(SyncPushReply.self, from: body)
                guard (0...sent.count).contains(result.applied) else {
                    throw SyncFailure("push answered \(result.applied) operations applied out of \(sent.count) sent")
                }
                pushed += result.applied
                for op in sent where op.sequence == peerVector[op.origin] + 1 { peerVector.advance(op.origin, to: op.sequence) }
                // Operations beyond a gap do not advance the vector: skip past them by the highest sent.
                for op in sent where op.sequence > peerVector[op.origin] { peerVector.advance(op.origin, to: op.sequence) }
                peers.withLock { $0[warehouse]?.vector = peerVector }
                if !more { break }
            }
            return RoundReport(peer: warehouse, ok: true, pulled: pulled, pushed: pushed, error: nil)
        } catch {
            let message = SyncFailure.describe(error)
            logger.debug("sync with \(warehouse) at \(url) failed: \(message)")
            return RoundReport(peer: warehouse, ok: false, pulled: pulled, pushed: pushed, error: message)
        }
    }

    /// Checks that the certificate the server at `url` presents names `warehouse` (see
    /// ``PeerIdentity/warehouse(at:tls:connectTimeout:)``); a mismatch is logged once per peer and address, and
    /// fails the round before anything is exchanged.
    private func checkIdentity(of warehouse: String, at url: String) async throws {
        let presented = try await PeerIdentity.warehouse(at: url, tls: credentials.clientTLS())
        guard presented == warehouse else {
            let failure = SyncFailure(
                "the certificate at \(url) names warehouse \(presented), not \(warehouse): nothing is exchanged with it")
            let isNew = peers.withLock { $0[warehouse]?.lastError != failure.description }
            if isNew { logger.warning("\(failure.description)") }
            throw failure
        }
    }

    /// Asks the node at `url` who it is, for `inv peer add`: the warehouse its certificate names, which its hello
    /// must confirm. Takes nothing from the answer's membership but unknown members' addresses (see
    /// ``MemberAnnouncementPolicy``).
    public func identify(url: String) async throws -> String {
        let certified = try await PeerIdentity.warehouse(at: url, tls: credentials.clientTLS())
        let hello = SyncHello(from: node.config.warehouse, vector: try node.store.reader.versionVector(), members: try node.store.reader.members())
        let reply: SyncHello = try await postJSON(url + "/v1/sync/hello", hello)
        guard reply.from == certified else {
            throw SyncFailure("\(url) answers as \(reply.from), but its certificate names \(certified)")
        }
        _ = try reply.versionVector()
        _ = try await node.store.submit(.announcedMembers(by: nil, Array(reply.members.prefix(SyncProtocol.maxMembers))))
        return certified
    }

    private func postJSON<Reply: Decodable>(_ url: String, _ body: some Encodable) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        let response = try await http.execute(request, timeout: .seconds(30))
        let data = try await response.body.collect(upTo: 16 << 20)
        guard response.status == .ok else {
            let code = try? JSONDecoder().decode(PeerRefusal.self, from: data).error.code
            throw SyncFailure("\(url) answered \(response.status.code): \(String(buffer: data))", code: code)
        }
        return try JSONDecoder().decode(Reply.self, from: data)
    }

    /// A pulled page as it arrived (compressed), with what its headers say.
    struct FetchedPage {
        var page: ByteBuffer
        var more: Bool
        /// From `x-inv-highest`; `nil` when the peer did not send it or it did not parse.
        var highest: [ReplicaID: UInt64]?
    }

    /// Starts fetching the page of operations above `cursor`.
    private func fetchPage(url: String, from me: String, cursor: VersionVector) -> Task<FetchedPage, any Error> {
        let request = SyncPullRequest(from: me, vector: cursor, limit: pageSize)
        return Task { try await self.postForPage(url + "/v1/sync/pull", request) }
    }

    private func postForPage(_ url: String, _ body: some Encodable) async throws -> FetchedPage {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        let response = try await http.execute(request, timeout: .seconds(120))
        let data = try await response.body.collect(upTo: 64 << 20)
        guard response.status == .ok else { throw SyncFailure("\(url) answered \(response.status.code): \(String(buffer: data))") }
        return FetchedPage(
            page: data, more: response.headers.first(name: SyncProtocol.moreHeader) == "1",
            highest: response.headers.first(name: SyncProtocol.highestHeader).flatMap(OperationPage.highest(fromHeader:)))
    }
}

/// The API error a peer answers with (`{"error": {"code": …}}`), for its code.
private struct PeerRefusal: Decodable {
    struct Detail: Decodable { var code: String }
    var error: Detail
}

/// A failed sync round, as one line.
struct SyncFailure: Error, CustomStringConvertible {
    var description: String
    /// The API error code of a peer's refusal (`retired`, `sync_paused`...), when it sent one.
    var code: String?
    init(_ description: String, code: String? = nil) {
        self.description = description
        self.code = code
    }

    /// How long a connection to a peer may take to open.
    static let connectTimeoutSeconds: Int64 = 2

    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "unreachable (connection refused)" }
        if text.contains("connectTimeout") { return "unreachable (timed out after \(connectTimeoutSeconds) s)" }
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("UNKNOWN_CA") {
            return "the peer's certificate is not from this cluster's CA (TLS verification failed)"
        }
        if text.contains("CERTIFICATE_REQUIRED") || text.contains("handshake") {
            return "the peer refused our certificate at the TLS handshake (is it from another cluster?)"
        }
        return text
    }
}

/// The first of two answers: a task's value, or a fallback after a timeout (the task is left to finish).
enum FirstAnswer {
    private final class Slot<Value: Sendable>: Sendable {
        let continuation: Mutex<CheckedContinuation<Value, Never>?>
        init(_ continuation: CheckedContinuation<Value, Never>) { self.continuation = Mutex(continuation) }
        func resume(_ value: Value) { continuation.withLock { $0.take() }?.resume(returning: value) }
    }

    static func race<Value: Sendable>(
        _ task: Task<Value, Never>, timeout: Duration, fallback: @escaping @Sendable () -> Value
    ) async -> Value {
        await withCheckedContinuation { continuation in
            let slot = Slot(continuation)
            let timer = Task {
                try? await Task.sleep(for: timeout)
                slot.resume(fallback())
            }
            Task {
                slot.resume(await task.value)
                timer.cancel()
            }
        }
    }
}
