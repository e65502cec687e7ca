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

/// A round with one peer (hello, pull, push), and the catch-up after a restore that rounds complete.
extension PeerSyncer {
    /// Logs what a merge of a page `peer` forwarded did not apply: the first 20 refused operations, one line each,
    /// and the operations no valid head of their origin covered, once per peer, origin and reason (a forgery is a
    /// warning, a lack of proof a notice). `verb` says how the page came: `pulled from`, `streamed from`,
    /// `pushed by`.
    func logRefusals(of report: MergeReport, forwardedBy peer: String, verb: String) {
        for refusal in report.refused.prefix(20) {
            logger.warning("refused operation \(refusal.origin):\(refusal.sequence) \(verb) \(peer): \(refusal.reason)")
        }
        for entry in report.unproven {
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

    /// One round: hello, pull what we lack, push what the peer lacks.
    func round(warehouse: String, url: String) async -> RoundReport {
        var pulled = 0
        var pushed = 0
        if isPaused { return RoundReport(peer: warehouse, ok: false, pulled: 0, pushed: 0, error: "sync is paused on this node", failure: .pausedHere) }
        peers.withLock { $0[warehouse]?.roundMerged = 0 }
        defer { peers.withLock { $0[warehouse]?.roundMerged = nil } }
        do {
            let me = node.config.warehouse
            try await checkIdentity(of: warehouse, at: url)
            let reply = try await exchangeHellos(with: warehouse, at: url)
            var peerVector = try reply.versionVector()
            let announcedVector = peerVector
            peers.withLock { $0[warehouse]?.vector = peerVector }

            // Pull: pages of what we lack, until the peer says there is no more. The next page is requested while
            // this one merges, and handed to the writer before this one's merge has answered, so the peer's reading
            // and encoding, our inflating and the writer's merging all overlap, and the writer finds the next page
            // queued when it finishes one. The request's vector is a cursor: advanced past every operation received,
            // also beyond a gap, so paging never repeats itself.
            var mine = try node.store.reader.versionVector()
            var catchUpLog = CatchUpLog()
            var cursor = mine
            // Nothing to pull when the peer announced nothing this node lacks (the usual gossip round).
            var next: Task<FetchedPage, any Error>? =
                Self.count(peerVector, beyond: mine) == 0 ? nil : fetchPage(url: url, from: me, cursor: cursor)
            var merging: QueuedWrite?
            defer { next?.cancel() }
            func merged(_ merge: QueuedWrite) async throws {
                guard case .merged(let report) = try await merge.outcome() else { throw SyncFailure("unexpected merge outcome") }
                pulled += report.applied
                logRefusals(of: report, forwardedBy: warehouse, verb: "pulled from")
                recordLag(of: report, from: warehouse)
                mine = try node.store.reader.versionVector()
                peers.withLock { $0[warehouse]?.roundMerged = pulled }
                let behind = Self.count(peerVector, beyond: mine)
                if catchUpLog.pageMerged(behind: behind, now: clock()) {
                    logger.info("catching up", metadata: ["peer": "\(warehouse)", "merged": "\(pulled)", "behind": "\(behind)"])
                }
            }
            while let fetching = next {
                let fetched = try await fetching.value
                next = nil
                peers.withLock { $0[warehouse]?.bytesReceived += fetched.page.readableBytes }
                // The page's highest sequences advance the cursor; a peer that does not announce them has its page
                // decoded here for them. Either way the page is decoded once more when it is queued, and the writer
                // checks every operation.
                let encoded: [UInt8]
                let highest: [ReplicaID: UInt64]
                if let announced = fetched.highest {
                    encoded = try OperationPage.inflate(fetched.page)
                    highest = announced
                } else {
                    let decoded = try OperationPage.decodeKeepingBytes(fetched.page)
                    encoded = decoded.encoded
                    highest = OperationPage.highest(of: decoded.operations.lazy.map(\.dot))
                }
                // Retired since this loop started (loops follow membership only every second): merge nothing more.
                if try node.store.reader.members().contains(where: { $0.warehouse == warehouse && $0.retired }) {
                    throw SyncFailure("\(warehouse) is retired", kind: .retired)
                }
                if fetched.more && !highest.isEmpty {
                    for (origin, sequence) in highest { cursor.advance(origin, to: sequence) }
                    next = fetchPage(url: url, from: me, cursor: cursor)
                }
                if !highest.isEmpty {
                    // At most two pages with the writer: this one queued behind the previous one's merge.
                    let merge = try node.store.queueMerge(encoded: encoded)
                    if let previous = merging { try await merged(previous) }
                    merging = merge
                }
            }
            if let last = merging { try await merged(last) }
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
                guard response.status == .ok else {
                    throw SyncFailure(url + "/v1/sync/push", answered: response.status.code, body: String(buffer: body))
                }
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
            forgetIdentity(of: warehouse)
            logger.debug("sync with \(warehouse) at \(url) failed: \(message)")
            return RoundReport(peer: warehouse, ok: false, pulled: pulled, pushed: pushed, error: message, failure: .of(error))
        }
    }

    /// Checks that the certificate the server at `url` presents names `warehouse` (see
    /// ``PeerIdentity/warehouse(at:tls:connectTimeout:)``); a mismatch is logged once per peer, address and
    /// warehouse presented, and fails the round before anything is exchanged.
    ///
    /// A check that passed holds for ``identityRecheckSeconds`` while every exchange with the peer succeeds: each is
    /// a TLS handshake at both ends, and anti-entropy and streams would otherwise make one every few seconds per
    /// peer. A failed round or an ended stream (the listener may have gone, and its port been taken) forgets it.
    func checkIdentity(of warehouse: String, at url: String) async throws {
        let key = "\(warehouse)\u{0}\(url)"
        let now = clock()
        if let checked = verifiedIdentities.withLock({ $0[key] }), now - checked < Self.identityRecheckSeconds { return }
        let presented = try await PeerIdentity.warehouse(at: url, tls: credentials.clientTLS())
        guard presented == warehouse else {
            let failure = SyncFailure(
                "the certificate at \(url) names warehouse \(presented), not \(warehouse): nothing is exchanged with it",
                kind: .certificate)
            // Checked and marked under one lock: two rounds with the peer at once (a forced one beside the loop's)
            // log it once.
            let key = "\(warehouse)\u{0}\(url)\u{0}\(presented)"
            if loggedIdentityMismatches.withLock({ $0.insert(key).inserted }) { logger.warning("\(failure.description)") }
            throw failure
        }
        verifiedIdentities.withLock { $0[key] = now }
    }

    /// How long a passed identity check holds while exchanges with the peer succeed (see ``checkIdentity(of:at:)``).
    static let identityRecheckSeconds = 300.0

    /// Forgets the identity checks of `warehouse`: an exchange with it failed or its stream ended.
    func forgetIdentity(of warehouse: String) {
        verifiedIdentities.withLock { checked in
            checked = checked.filter { !$0.key.hasPrefix("\(warehouse)\u{0}") }
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
            throw SyncFailure("\(url) answers as \(reply.from), but its certificate names \(certified)", kind: .certificate)
        }
        _ = try reply.versionVector()
        try await takeAnnouncedMembers(reply.members, by: nil)
        return certified
    }
}
