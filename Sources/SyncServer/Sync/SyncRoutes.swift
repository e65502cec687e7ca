import CRDT
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Store

/// The peer listener's routes: `/v1/sync/hello`, `/v1/sync/pull`, `/v1/sync/push`, `/v1/sync/stream`.
///
/// Served only on the mutual-TLS peer listener, whose handshake refuses any client without a certificate signed
/// by the cluster CA; bearer tokens are never accepted here. The certificate's warehouse must match the `from`
/// the caller claims, and a retired warehouse is refused.
struct SyncRoutes {
    let node: InvNode
    let syncer: PeerSyncer

    func addRoutes(to router: Router<InvRequestContext>) {
        router.add(middleware: ErrorMiddleware())
        let sync = router.group("v1/sync")
        sync.post("hello", use: hello)
        sync.post("pull", use: pull)
        sync.post("push", use: push)
        sync.post("stream", use: stream)
    }

    /// Checks the caller's certificate against its claim, and that it is not retired (unless `allowingRetired`:
    /// a retired warehouse's hello is answered, so that it learns its retirement).
    private func authorize(claimed: String?, context: InvRequestContext, allowingRetired: Bool = false) async throws -> String {
        guard !syncer.isPaused else { throw APIError(.serviceUnavailable, "sync_paused", "sync is paused on this node") }
        guard let certified = await PeerIdentity.warehouse(on: context.channel) else {
            throw APIError(.forbidden, "no_peer_certificate", "peer sync needs a cluster certificate")
        }
        if let claimed, claimed != certified {
            throw APIError(.forbidden, "peer_mismatch", "certificate is for \(certified), not \(claimed)")
        }
        if !allowingRetired, try node.store.reader.members().contains(where: { $0.warehouse == certified && $0.retired }) {
            throw APIError(.forbidden, "retired", "warehouse \(certified) is retired from the cluster")
        }
        return certified
    }

    /// A peer's vector, or a 400 naming what is wrong with it.
    private static func checked(_ vector: () throws(PeerInputError) -> VersionVector) throws -> VersionVector {
        do { return try vector() } catch { throw APIError(.badRequest, "invalid_vector", error.description) }
    }

    @Sendable func hello(_ request: Request, context: InvRequestContext) async throws -> Response {
        let message = try await request.decodeJSON(SyncHello.self, context: context)
        guard message.v == SyncProtocol.version else {
            throw APIError(.unprocessableContent, "unsupported_version", "sync protocol version \(message.v) is not supported")
        }
        let peer = try await authorize(claimed: message.from, context: context, allowingRetired: true)
        let vector = try Self.checked(message.versionVector)
        guard message.members.count <= SyncProtocol.maxMembers, (message.decisions?.count ?? 0) <= SyncProtocol.maxMembers else {
            throw APIError(.badRequest, "invalid_members", "a hello carries at most \(SyncProtocol.maxMembers) members and decisions")
        }
        // Member certificates are taken from anyone: each one is checked against the cluster CA. Taken first, so
        // that a warehouse's retirement of itself, signed with the key its certificate certifies, verifies here.
        try await OriginProofs.take(message.certificates, clusterCA: syncer.clusterCA, into: node)
        // Decisions are taken from anyone: each one is checked by the writer (the cluster CA key, or a warehouse's
        // own certified key for its own retirement only).
        try await syncer.takeDecisions(message.decisions)
        if try node.store.reader.members().contains(where: { $0.warehouse == peer && $0.retired }) {
            // A retired warehouse learns its retirement, as signed, and nothing else.
            return try context.respond(SyncHello(
                from: node.config.warehouse, vector: VersionVector(), members: [],
                decisions: try node.store.reader.membershipDecisions()), to: request)
        }
        // The sender is authenticated by its certificate: it may announce its own address (and unknown members'
        // as hints), nothing else (see `MemberAnnouncementPolicy`).
        try await syncer.takeAnnouncedMembers(message.members, by: peer)
        syncer.heard(from: peer, vector: vector)
        // Built after what the hello brought was taken: a caller whose digest now equals ours holds what we hold.
        let membership = try HeldMembership.current(of: node, own: syncer.ownCertificate)
        let reply = SyncHello(
            from: node.config.warehouse, vector: try node.store.reader.versionVector(), membership: membership,
            whole: message.digest != membership.digest)
        return try context.respond(reply, to: request)
    }

    @Sendable func pull(_ request: Request, context: InvRequestContext) async throws -> Response {
        let message = try await request.decodeJSON(SyncPullRequest.self, context: context)
        guard message.v == SyncProtocol.version else {
            throw APIError(.unprocessableContent, "unsupported_version", "sync protocol version \(message.v) is not supported")
        }
        let peer = try await authorize(claimed: message.from, context: context)
        let limit = min(max(message.limit, 1), SyncProtocol.maxPageSize)
        let vector = try Self.checked(message.versionVector)
        syncer.heard(from: peer, vector: vector)
        syncer.servedPull(to: peer)
        let (page, sent, more) = try OperationPage.encodeProven(from: node.store.reader, missingFrom: vector, limit: limit)
        var headers = HTTPFields()
        headers[.contentType] = SyncProtocol.pageContentType
        headers[HTTPField.Name(SyncProtocol.moreHeader)!] = more ? "1" : "0"
        headers[HTTPField.Name(SyncProtocol.highestHeader)!] = OperationPage.highestHeaderValue(sent)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: page))
    }

    @Sendable func push(_ request: Request, context: InvRequestContext) async throws -> Response {
        let peer = try await authorize(claimed: request.headers[HTTPField.Name("x-inv-from")!], context: context)
        var request = request
        let body: ByteBuffer
        do { body = try await request.collectBody(upTo: SyncProtocol.maxPushBytes) } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "body_too_large", "a pushed page is larger than \(SyncProtocol.maxPushBytes >> 20) MiB")
        }
        // Decoded before it is queued, so a malformed page is answered `bad_page`.
        let merge: QueuedWrite
        do { merge = try node.store.queueMerge(encoded: try OperationPage.inflate(body)) } catch {
            throw APIError(.unprocessableContent, "bad_page", "\(error)")
        }
        guard case .merged(let report) = try await merge.outcome() else {
            throw StoreError.storage("unexpected outcome")
        }
        syncer.logRefusals(of: report, forwardedBy: peer, verb: "pushed by")
        let refused = report.refused.count + report.unproven.reduce(0) { $0 + $1.count }
        return try context.respond(SyncPushReply(applied: report.applied, duplicates: report.duplicates, refused: refused), to: request)
    }

    /// A live stream to the caller: frames of pages from its vector on, then of this node's later operations, until
    /// either side closes it (see ``PeerSyncer/serveStream(to:from:write:abort:)``).
    @Sendable func stream(_ request: Request, context: InvRequestContext) async throws -> Response {
        let message = try await request.decodeJSON(SyncStreamRequest.self, context: context)
        guard message.v == SyncProtocol.version else {
            throw APIError(.unprocessableContent, "unsupported_version", "sync protocol version \(message.v) is not supported")
        }
        let peer = try await authorize(claimed: message.from, context: context)
        let vector = try Self.checked(message.versionVector)
        syncer.heard(from: peer, vector: vector)
        var headers = HTTPFields()
        headers[.contentType] = SyncProtocol.streamContentType
        headers[.cacheControl] = "no-cache"
        // A stalled write is ended by closing the connection under it (see `StalledWriteGuard`).
        let channel = context.channel
        return Response(status: .ok, headers: headers, body: ResponseBody { [syncer] writer in
            let end = try await syncer.serveStream(
                to: peer, from: vector, write: { frame in try await writer.write(frame) }, abort: { channel.close(promise: nil) })
            // A dropped stream's connection is closed: there is no response left to finish.
            if case .finish = end { try await writer.finish(nil) }
        })
    }
}
