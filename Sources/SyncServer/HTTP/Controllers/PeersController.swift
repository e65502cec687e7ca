import CRDT
import Foundation
import Hummingbird
import Store
import X509

/// `/v1/peers`, `/v1/membership/decisions` and `/v1/sync` on the API listener: cluster membership, its decisions, and
/// on-demand sync (bearer tokens).
struct PeersController {
    let node: InvNode
    let syncer: PeerSyncer?

    func addRoutes(to group: RouterGroup<InvRequestContext>) {
        group.get("peers", use: list)
        group.get("membership/decisions", use: decisions)
        group.post("peers", use: add)
        group.delete("peers/{warehouse}", use: retire)
        group.post("peers/{warehouse}/readmit", use: readmit)
        group.post("sync", use: syncNow)
        group.put("sync/paused", use: setPaused)
    }

    private func running() throws -> PeerSyncer {
        guard let syncer else { throw APIError(.serviceUnavailable, "sync_not_running", "peer sync is not running on this node") }
        return syncer
    }

    @Sendable func list(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.reporter)
        let statuses = Dictionary((syncer?.status() ?? []).map { ($0.warehouse, $0) }) { a, _ in a }
        let decisions = Dictionary(try node.store.reader.membershipDecisions().map { ($0.warehouse, $0) }) { a, _ in a }
        let members = try node.store.reader.members().map { member in
            API.Member(
                warehouse: member.warehouse, peerURL: member.peerURL, retired: member.retired,
                isSelf: member.warehouse == node.config.warehouse, status: statuses[member.warehouse],
                decision: decisions[member.warehouse].map(API.Member.Decision.init))
        }
        return try context.respond(members, to: request)
    }

    /// Every retirement and re-admission this node took, superseded ones included, oldest first (`inv history`
    /// shows them among movements); `warehouse`, `since` and `until` select as they do for `/v1/history`.
    @Sendable func decisions(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.reporter)
        let warehouse = request.query("warehouse")
        if let warehouse, !ReplicaID.isValid(warehouse) {
            throw APIError(.unprocessableContent, "invalid_input", "warehouse must be 1-32 characters of A-Z a-z 0-9 _ -")
        }
        let since = try request.queryDate("since")
        let until = try request.queryDate("until")
        let events = try node.store.reader.membershipDecisionLog().filter { entry in
            let milliseconds = entry.timestamp.physicalMilliseconds
            return (warehouse == nil || entry.warehouse == warehouse) && since.map { milliseconds >= $0 } ?? true
                && until.map { milliseconds < $0 } ?? true
        }
        return try context.respond(events.map(API.MembershipEvent.init), to: request)
    }

    @Sendable func add(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.admin)
        let body = try await request.decodeJSON(API.PeerBody.self, context: context)
        guard PeerURL.isValid(body.url) else {
            throw APIError(.badRequest, "invalid_url", "url must be https://HOST:PORT of a peer's sync listener (nothing after the port)")
        }
        let syncer = try running()
        let warehouse: String
        do { warehouse = try await syncer.identify(url: body.url) } catch {
            throw APIError(.unprocessableContent, "peer_unreachable", "cannot reach a cluster peer at \(body.url): \(SyncFailure.describe(error))")
        }
        guard warehouse != node.config.warehouse else { throw APIError(.unprocessableContent, "invalid_input", "that is this node") }
        // Adding never re-admits: bringing a retired warehouse back is its own, explicit act.
        if let member = try node.store.reader.members().first(where: { $0.warehouse == warehouse }), member.retired {
            throw APIError(
                .conflict, "retired",
                "\(warehouse) was retired on \(API.timestamp(member.timestamp)); re-admit it with `inv peer readmit \(warehouse)`")
        }
        _ = try await node.store.submit(.setMember(warehouse: warehouse, peerURL: body.url, retired: false))
        syncer.refreshMembers()
        syncer.triggerAll(force: true)
        return try context.respond(API.Member(warehouse: warehouse, peerURL: body.url, retired: false, isSelf: false, status: nil), status: .created, to: request)
    }

    /// Signs a retirement or re-admission of `warehouse` with the cluster CA key and applies it; peers learn it in
    /// their next hello. Refused (409 `ca_key_absent`) on a node without the key, saying where to run it.
    private func decide(_ warehouse: String, retired: Bool, actor: String) async throws {
        let pki = try clusterCAFiles(toDecide: warehouse, retired: retired)
        let decision = try MembershipDecision.signed(
            warehouse: warehouse, retired: retired, timestamp: try nextDecisionTime(for: warehouse), actor: actor,
            issuer: node.config.warehouse,
            caKey: try pki.loadCA().privateKey)
        _ = try await node.store.submit(.decideMembership([decision]))
    }

    /// Signs this warehouse's retirement of itself with its node key (the one its member certificate certifies)
    /// and applies it; peers learn it in the next hello, and check it against that certificate. The node refuses
    /// local writes from then on, as for a retirement by the cluster CA, which alone can re-admit it.
    private func retireSelf(actor: String) async throws {
        let pki = PKIFiles(directory: node.directory.tlsDirectory)
        let issued: IssuedCertificate
        let clusterCA: Certificate
        do {
            issued = try pki.loadNode()
            clusterCA = try pki.loadCACertificate()
        } catch {
            throw APIError(.conflict, "node_key_absent", "this node has no member certificate and key to sign its own retirement with")
        }
        // Its own certificate, so the writer (like every peer) finds the key that signed the decision.
        if let own = OriginProofs.originCertificate(issued.certificate, clusterCA: clusterCA) {
            _ = try await node.store.submit(.addOriginCertificates([own]))
        }
        let warehouse = node.config.warehouse
        let decision = try MembershipDecision.selfRetirement(
            of: warehouse, timestamp: try nextDecisionTime(for: warehouse), actor: actor, nodeKey: issued.privateKey)
        // The writer checks it as every peer will: a key the cluster CA did not certify retires nobody.
        guard case .members(let changed) = try await node.store.submit(.decideMembership([decision])),
              changed.contains(where: { $0.warehouse == warehouse })
        else {
            throw APIError(
                .conflict, "node_key_uncertified", "this node's certificate is not signed by the cluster CA: its retirement would not verify")
        }
    }

    /// A decision's time: now, or just after the decision held about `warehouse` if that one is not older, so the
    /// new one supersedes it.
    private func nextDecisionTime(for warehouse: String) throws -> HLCTimestamp {
        let held = try node.store.reader.membershipDecisions().first { $0.warehouse == warehouse }
        let now = HLCTimestamp(physicalMilliseconds: SystemClock().nowMilliseconds(), logical: 0)
        guard let held, held.timestamp >= now else { return now }
        guard let next = held.timestamp.successor else {
            throw APIError(.conflict, "decision_time_exhausted", "the decision held about \(warehouse) cannot be superseded")
        }
        return next
    }

    /// The PKI files of a node that holds the cluster CA key, or a 409 saying where to run the command.
    private func clusterCAFiles(toDecide warehouse: String, retired: Bool) throws -> PKIFiles {
        let pki = PKIFiles(directory: node.directory.tlsDirectory)
        guard FileManager.default.fileExists(atPath: pki.caKeyPath) else {
            let command = retired ? "inv peer remove \(warehouse)" : "inv peer readmit \(warehouse)"
            throw APIError(
                .conflict, "ca_key_absent", "this node lacks the cluster CA key: run `\(command)` on the founding node")
        }
        return pki
    }

    @Sendable func retire(_ request: Request, context: InvRequestContext) async throws -> Response {
        let identity = try context.require(.admin)
        let warehouse = context.parameters.get("warehouse") ?? ""
        // A warehouse may retire itself with its own key; any other member only with the cluster CA key.
        let isSelf = warehouse == node.config.warehouse
        let members = try node.store.reader.members()
        guard let member = members.first(where: { $0.warehouse == warehouse }) else {
            if isSelf { throw APIError(.conflict, "not_in_cluster", "\(warehouse) is in no cluster yet: there is nothing to retire it from") }
            throw APIError.notFound("no member \(warehouse)")
        }
        if isSelf {
            if member.retired { throw APIError(.conflict, "retired", "\(warehouse) is retired already") }
        } else {
            _ = try clusterCAFiles(toDecide: warehouse, retired: true)
        }
        // Only a transfer's destination may accept it: goods in transit to or from a retired warehouse are stranded.
        if request.query("force") != "true" {
            let stranded = try node.store.reader.openTransfers().filter { $0.from == warehouse || $0.to == warehouse }
            if !stranded.isEmpty {
                let units = stranded.reduce(Int64(0)) { $0 + $1.inTransit }
                let transfers = stranded.count == 1 ? "1 transfer" : "\(stranded.count) transfers"
                throw APIError(
                    .conflict, "goods_in_transit",
                    "\(warehouse) has \(units) units in transit to or from it (\(transfers)); they would be stranded: retire it anyway with --force")
            }
        }
        if isSelf {
            try await retireSelf(actor: identity.name)
        } else {
            try await decide(warehouse, retired: true, actor: identity.name)
        }
        syncer?.refreshMembers()
        // The next hello to each peer carries the decision (a retired node still says hello, to tell them).
        syncer?.triggerAll()
        return try context.respond(API.Member(warehouse: warehouse, peerURL: member.peerURL, retired: true, isSelf: isSelf, status: nil), to: request)
    }

    /// Re-admits a retired warehouse: the explicit act `inv peer add` never performs on its own.
    ///
    /// The same authority as retiring it: an admin token on the node holding the cluster CA key, whose signature
    /// every member checks. The warehouse learns it at the next hello from any member that has heard of it, and
    /// accepts local writes again from then on.
    @Sendable func readmit(_ request: Request, context: InvRequestContext) async throws -> Response {
        let identity = try context.require(.admin)
        let warehouse = context.parameters.get("warehouse") ?? ""
        guard let member = try node.store.reader.members().first(where: { $0.warehouse == warehouse }) else {
            throw APIError.notFound("no member \(warehouse)")
        }
        guard member.retired else { throw APIError(.conflict, "not_retired", "\(warehouse) is not retired") }
        try await decide(warehouse, retired: false, actor: identity.name)
        syncer?.refreshMembers()
        syncer?.triggerAll(force: true)
        return try context.respond(API.Member(warehouse: warehouse, peerURL: member.peerURL, retired: false, isSelf: false, status: nil), to: request)
    }

    /// Pauses or resumes peer sync (maintenance, or to rehearse a WAN outage).
    @Sendable func setPaused(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.admin)
        let body = try await request.decodeJSON(API.SyncPaused.self, context: context)
        let syncer = try running()
        if body.paused { syncer.pause() } else { syncer.resume() }
        return try context.respond(API.SyncPaused(paused: syncer.isPaused), to: request)
    }

    @Sendable func syncNow(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.staff)
        let syncer = try running()
        let timeout = try request.queryInt("timeout", range: 1...3_600)
        let reports = await syncer.syncNow(timeout: timeout.map { .seconds($0) })
        return try context.respond(reports, to: request)
    }
}
