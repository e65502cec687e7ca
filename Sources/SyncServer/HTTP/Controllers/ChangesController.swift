import CRDT
import Foundation
import HTTPTypes
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
        let format: Format
        switch request.query("format") ?? "json" {
        case "json": format = .json
        case "tsv": format = .tabSeparated
        default: throw APIError(.unprocessableContent, "invalid_input", "format must be json or tsv")
        }
        guard wait > 0 else { return answer(try read(after: cursor, limit: limit, as: format), since: cursor) }

        // Subscribe before the first read: a commit between the read and the subscription would otherwise be
        // missed until the deadline. Any committed operation wakes the wait; the read decides whether it is news.
        let commits = node.events.subscribe(where: { event in
            if case .operation = event { return true }
            return false
        })
        let deadline = ContinuousClock.now + .seconds(wait)
        var page = try read(after: cursor, limit: limit, as: format)
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
            page = try read(after: cursor, limit: limit, as: format)
            if !woken { break }
        }
        return answer(page, since: cursor)
    }

    /// How a page is answered: JSON (``API/ChangesPage``), or for bulk readers tab-separated text
    /// (``TabSeparatedText``, `format=tsv`): a first row naming the columns, a row per entry, and the rest of the
    /// page in headers (``API/ChangesPage/Header``). The PostgreSQL mirror hands those rows to `COPY`
    /// as they came: reading JSON into values and writing them out again was most of its CPU.
    enum Format {
        case json, tabSeparated
    }

    /// A page read, its entries already written.
    private struct Read {
        enum Body {
            case json(JSONText)
            case tabSeparated(TabSeparatedText)
        }
        var page: ChangePage
        var body: Body
    }

    /// Reads a page, writing each entry straight from its stored row (``JSONText/change(_:)``,
    /// ``TabSeparatedText/change(_:)``): building operations and history entries first was a third of the node's
    /// CPU serving a mirror's catch-up.
    private func read(after cursor: ChangeCursor, limit: Int, as format: Format) throws -> Read {
        let reader = node.store.reader
        switch format {
        case .json:
            var json = JSONText.changesPage(capacity: 128 + min(limit, 1_000) * 400)
            let page = try reader.changes(after: cursor, limit: limit) { row in try json.change(row) }
            return Read(page: page, body: .json(json))
        case .tabSeparated:
            var text = TabSeparatedText(capacity: 256 + min(limit, 1_000) * 220)
            text.row(TabSeparatedText.changeColumns)
            let page = try reader.changes(after: cursor, limit: limit) { row in try text.change(row) }
            return Read(page: page, body: .tabSeparated(text))
        }
    }

    private func answer(_ read: Read, since cursor: ChangeCursor) -> Response {
        var waiting = Set(read.page.heldBeyondGap)
        // The node knows of later operations than it holds from what its peers announced, and from the reader's
        // own cursor when it was read on a node further ahead.
        for vector in (syncer?.announcedVectors() ?? []) + [cursor.vector] {
            for (origin, sequence) in vector.entries where sequence > read.page.held[origin] { waiting.insert(origin) }
        }
        let waitingFor = waiting.map(\.rawValue).sorted()
        switch read.body {
        case .json(var json):
            return JSONResponse.make(json: json.finishChangesPage(more: read.page.more, next: read.page.next.token, waitingFor: waitingFor))
        case .tabSeparated(let text):
            var headers = HTTPFields()
            headers[.contentType] = "text/tab-separated-values; charset=utf-8"
            headers[Self.header(.next)] = read.page.next.token
            headers[Self.header(.more)] = read.page.more ? "true" : "false"
            headers[Self.header(.waitingFor)] = waitingFor.joined(separator: ",")
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: text.buffer))
        }
    }

    private static func header(_ header: API.ChangesPage.Header) -> HTTPField.Name {
        // The names are constants, valid field names.
        HTTPField.Name(header.rawValue)!
    }
}
