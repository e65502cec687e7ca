import CRDT
import Foundation
import Hummingbird
import Store

/// `GET /v1/changes`: the change feed for incremental readers (reporting jobs, the PostgreSQL mirror).
///
/// Unlike history's cursor (a position in timestamp order, for browsing), the feed's cursor is a version vector
/// (``ChangeCursor``), so an operation that arrives late from a warehouse that was offline is in the next answer,
/// and every operation is delivered exactly once across successive cursors.
struct ChangesController {
    let node: InvNode
    var syncer: PeerSyncer? = nil

    static let defaultLimit = 1_000
    static let maximumLimit = 10_000
    /// The longest long-poll: below the CLI's 60-second read timeout, and short enough that a proxy keeps the
    /// connection.
    static let maximumWait = 55

    func addRoutes(to group: RouterGroup<InvRequestContext>) {
        group.get("changes", use: changes)
    }

    @Sendable func changes(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.reporter)
        var cursor = ChangeCursor()
        if let token = request.query("since") {
            guard let parsed = ChangeCursor(token: token) else {
                throw APIError(.badRequest, "invalid_cursor", "since is not a change-feed cursor (use the next of an earlier answer)")
            }
            cursor = parsed
        }
        let limit = try request.queryInt("limit", range: 1...Self.maximumLimit) ?? Self.defaultLimit
        let wait = try request.queryInt("wait", range: 0...Self.maximumWait) ?? 0
        guard wait > 0 else { return answer(try read(after: cursor, limit: limit), since: cursor) }

        // Subscribe before the first read: a commit between the read and the subscription would otherwise be
        // missed until the deadline. Any committed operation wakes the wait; the read decides whether it is news.
        let commits = node.events.subscribe(where: { event in
            if case .operation = event { return true }
            return false
        })
        let deadline = ContinuousClock.now + .seconds(wait)
        var page = try read(after: cursor, limit: limit)
        while page.page.count == 0, ContinuousClock.now < deadline {
            let woken = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    for await _ in commits { return true }
                    return false
                }
                group.addTask {
                    try? await Task.sleep(until: deadline, clock: .continuous)
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
            page = try read(after: cursor, limit: limit)
            if !woken { break }
        }
        return answer(page, since: cursor)
    }

    /// A page read, its entries already written as JSON.
    private struct Read {
        var page: ChangePage
        var json: JSONText
    }

    /// Reads a page, writing each entry's JSON straight from its stored row (``JSONText/change(_:)``): building
    /// operations and history entries first was a third of the node's CPU serving a mirror's catch-up.
    private func read(after cursor: ChangeCursor, limit: Int) throws -> Read {
        var json = JSONText.changesPage(capacity: 128 + min(limit, 1_000) * 400)
        let page = try node.store.reader.changes(after: cursor, limit: limit) { row in try json.change(row) }
        return Read(page: page, json: json)
    }

    private func answer(_ read: Read, since cursor: ChangeCursor) -> Response {
        var read = read
        var waiting = Set(read.page.heldBeyondGap)
        // The node knows of later operations than it holds from what its peers announced, and from the reader's
        // own cursor when it was read on a node further ahead.
        for vector in (syncer?.announcedVectors() ?? []) + [cursor.vector] {
            for (origin, sequence) in vector.entries where sequence > read.page.held[origin] { waiting.insert(origin) }
        }
        let body = read.json.finishChangesPage(
            more: read.page.more, next: read.page.next.token, waitingFor: waiting.map(\.rawValue).sorted())
        return JSONResponse.make(json: body)
    }
}
