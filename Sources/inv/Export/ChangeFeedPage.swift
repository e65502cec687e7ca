import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SyncServer

/// A page of the change feed as the PostgreSQL mirror reads it: its entries as tab-separated text in the feed's
/// columns (`GET /v1/changes?format=tsv`), kept as they came so that `COPY` reads them; and the page's cursor.
struct ChangeFeedPage {
    /// The entries, one row each in ``TabSeparatedText/changeColumns``, without the row that names the columns.
    var rows: ByteBuffer
    /// How many entries.
    var count: Int
    var next: String
    var more: Bool
    var waitingFor: [String]
    /// The materialised tables the entries change.
    var touched = Export.Postgres.Dirty()

    static let typeColumn = TabSeparatedText.changeColumns.firstIndex(of: "type")!
    static let skuColumn = TabSeparatedText.changeColumns.firstIndex(of: "sku")!

    /// Checks a reply of the feed: its headers, the row naming the columns, and that every row has as many fields;
    /// notes in the same pass what each row touches (its type and SKU).
    /// - Throws: `CLIError` naming what differs, for a node that answers another format or other columns.
    init(_ reply: NodeClient.Reply, from node: String) throws {
        let contentType = reply.headers.first(name: "Content-Type") ?? ""
        guard contentType.hasPrefix("text/tab-separated-values") else {
            throw CLIError("the node at \(node) does not answer the change feed as tab-separated text; upgrade it to this inv's release")
        }
        func header(_ name: API.ChangesPage.Header) throws -> String {
            guard let value = reply.headers.first(name: name.rawValue) else {
                throw CLIError("unexpected answer from the node: the change feed's \(name.rawValue) header is missing")
            }
            return value
        }
        next = try header(.next)
        switch try header(.more) {
        case "true": more = true
        case "false": more = false
        case let other: throw CLIError("unexpected answer from the node: \(API.ChangesPage.Header.more.rawValue): \(other)")
        }
        waitingFor = try header(.waitingFor).split(separator: ",").map(String.init)

        var body = ByteBuffer(data: reply.body)
        let columns = TabSeparatedText.changeColumns
        let expected = columns.joined(separator: "\t")
        guard let end = body.readableBytesView.firstIndex(of: UInt8(ascii: "\n")),
            let named = body.readString(length: end - body.readerIndex), body.readInteger(as: UInt8.self) != nil
        else { throw CLIError("unexpected answer from the node: the change feed names no columns") }
        guard named == expected else {
            throw CLIError(
                "the node's change feed has the columns \(named.replacingOccurrences(of: "\t", with: ",")), "
                    + "where this inv reads \(columns.joined(separator: ",")); run the same release on both")
        }
        rows = body
        var count = 0
        var badRow: Int?
        var touched = Export.Postgres.Dirty()
        rows.withUnsafeReadableBytes { text in
            TabSeparatedText.forEachRow(in: text) { row in
                count += 1
                guard badRow == nil else { return }
                guard row.fieldCount == columns.count else { return badRow = count }
                touched.note(type: row.text(at: Self.typeColumn) ?? "", sku: row.text(at: Self.skuColumn) ?? "")
            }
        }
        self.touched = touched
        if let badRow { throw CLIError("unexpected answer from the node: change-feed row \(badRow) has not \(columns.count) fields") }
        self.count = count
    }
}
