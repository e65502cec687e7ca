import ArgumentParser
import Foundation
import NIOHTTP1
import Store
import SyncServer

/// `inv changes`: the change feed, for jobs that read the ledger incrementally.
struct Changes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Every operation not read yet, exactly once, including ones that arrive late from offline warehouses.",
        discussion: """
            Reads GET /v1/changes from the cursor given (--since) or kept in a file (--state), from the beginning \
            otherwise. With --state FILE the cursor is written to FILE atomically after each page is printed, so \
            the next run goes on where this one stopped. JSON prints each page as the node answers it, one per \
            line (`changes`, `next`, `waiting_for`, `more`); CSV prints one line per operation.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case json, csv }

    @Option(help: "Start after this cursor (the `next` of an earlier page).") var since: String?
    @Option(help: "Keep the cursor in this file: read at start, replaced after each page printed.") var state: String?
    @Option(help: "json or csv.") var format: Format = .json
    @Flag(help: "Keep reading until interrupted, waiting for new operations.") var follow = false
    @OptionGroup var client: ClientOptions

    /// How long one request waits for news when following (below the client's 60-second read timeout).
    static let followWait = 25
    static let pageLimit = 1_000

    func validate() throws {
        if since != nil && state != nil { throw ValidationError("give --since or --state, not both") }
        if let since, ChangeCursor(token: since) == nil { throw ValidationError("--since is not a change-feed cursor") }
    }

    func run() async throws {
        var cursor = try since ?? state.flatMap(Self.readState)
        try await NodeClient.with(client) { node in
            var printedHeader = false
            var printedPage = false
            while true {
                let reply = try await node.send(.GET, "/v1/changes", query: [
                    ("since", cursor), ("limit", String(Self.pageLimit)), ("wait", follow ? String(Self.followWait) : nil),
                ])
                let page = try node.decode(API.ChangesPage.self, reply)
                switch format {
                case .json:
                    if !page.changes.isEmpty || (!follow && !printedPage) {
                        FileHandle.standardOutput.write(reply.body + Data("\n".utf8))
                        printedPage = true
                    }
                case .csv:
                    var text = ""
                    if !printedHeader {
                        text += Self.csvHeader
                        printedHeader = true
                    }
                    for change in page.changes { text += Self.csvLine(change) }
                    if !text.isEmpty { FileHandle.standardOutput.write(Data(text.utf8)) }
                }
                if let state, page.next != cursor {
                    do { try DurableFile.replace(state, with: Array(page.next.utf8)) } catch {
                        throw CLIError("cannot save the cursor in \(state): \(error)")
                    }
                }
                cursor = page.next
                if !page.more && !follow { break }
            }
        }
    }

    /// The cursor kept in `path`; `nil` (from the beginning) when the file does not exist yet.
    static func readState(_ path: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read the state file \(path)") }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard ChangeCursor(token: token) != nil else { throw CLIError("\(path) does not hold a change-feed cursor") }
        return token
    }

    static let csvHeader = "id,type,sku,warehouse,quantity,delta,origin,sequence,timestamp,user,reason,reference,transfer_id,counterpart,hlc,document\n"

    /// One change as a CSV line: text cells neutralised by ``CSV`` (the product's one CSV writer), numbers as they are.
    static func csvLine(_ change: API.Change) -> String {
        let m = change.movement
        var cells: [CSV.Cell] = [.text(m.id), .text(m.type), .text(m.sku), .text(m.warehouse ?? "")]
        cells += [.number(m.quantity), .number(m.delta), .text(m.origin), .number(Int64(clamping: m.sequence))]
        cells += [.text(m.timestamp), .text(m.user), .text(m.reason ?? ""), .text(m.reference ?? "")]
        cells += [.text(m.transferID ?? ""), .text(m.counterpart ?? "")]
        cells.append(change.hlcValue.map { .number(Int64(bitPattern: $0)) } ?? .text(change.hlc))
        cells.append(.text(m.document ?? ""))
        return CSV.line(cells)
    }
}
