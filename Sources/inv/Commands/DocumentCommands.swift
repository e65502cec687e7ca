import ArgumentParser
import Foundation
import NIOHTTP1
import Store
import SyncServer

/// A document's lines read from a CSV file with the header `sku,quantity`, and where each came from.
struct DocumentFile {
    /// The name used in messages (`-` is "standard input").
    var name: String
    var lines: [API.DocumentBody.Line]
    /// The file's line number of each document line (the header is line 1; blank lines are skipped).
    var fileLines: [Int]

    /// Reads `path` (`-`: standard input).
    ///
    /// - Throws: `CLIError` naming the file's line for a missing or wrong header, a row without two cells, or a
    ///   quantity that is not a whole number (the node checks ranges and SKUs, and names the line too).
    static func read(_ path: String) throws -> DocumentFile {
        let data: Data
        let name = path == "-" ? "standard input" : path
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read \(path)") }
            data = contents
        }
        guard let text = String(data: data, encoding: .utf8) else { throw CLIError("\(name) is not UTF-8 text") }
        return try parse(text, name: name)
    }

    static func parse(_ text: String, name: String) throws -> DocumentFile {
        // A byte-order mark, as spreadsheets write one, is not part of the header.
        let rows = SyncServer.CSV.read(text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text)
        var header: [String]?
        var file = DocumentFile(name: name, lines: [], fileLines: [])
        for (index, row) in rows.enumerated() {
            let number = index + 1
            let cells = row.map { $0.trimmingCharacters(in: .whitespaces) }
            if cells.allSatisfy(\.isEmpty) { continue }
            guard header != nil else {
                guard cells.map({ $0.lowercased() }) == ["sku", "quantity"] else {
                    throw CLIError("\(name) line \(number): the header must be sku,quantity, got \(row.joined(separator: ",").prefix(60))")
                }
                header = cells
                continue
            }
            guard cells.count == 2 else {
                throw CLIError("\(name) line \(number): expected 2 cells (sku,quantity), got \(cells.count)")
            }
            guard let quantity = Int64(cells[1]) else {
                throw CLIError("\(name) line \(number): quantity must be a whole number, got \(cells[1].debugDescription.prefix(40))")
            }
            file.lines.append(API.DocumentBody.Line(sku: cells[0], quantity: quantity))
            file.fileLines.append(number)
        }
        guard header != nil else { throw CLIError("\(name) is empty: it needs the header sku,quantity and one line per product") }
        guard !file.lines.isEmpty else { throw CLIError("\(name) has no lines after its header") }
        return file
    }

    /// A node's refusal about document line `line`, restated with the file's line number.
    func restate(_ error: CLIError) -> CLIError {
        guard let line = error.line, line >= 1, line <= fileLines.count else { return error }
        var message = error.description
        if message.hasPrefix("line \(line): ") { message.removeFirst("line \(line): ".count) }
        return CLIError("\(name) line \(fileLines[line - 1]): \(message)", status: error.status, line: line)
    }
}

/// Options of every command that records a document from a file.
struct DocumentFileOption: ParsableArguments {
    @Option(help: ArgumentHelp("A CSV file with the header sku,quantity (- reads standard input).", valueName: "file"))
    var file: String?
}

/// Posts a document read from `file` and prints it (a sentence and a table, or the node's JSON).
func postDocument(
    type: DocumentType, file path: String, to: String? = nil, reason: String?, movement: MovementOptions, client: ClientOptions
) async throws {
    let file = try DocumentFile.read(path)
    let body = API.DocumentBody(type: type, lines: file.lines, to: to, reason: reason, reference: movement.reference, id: movement.id)
    try await NodeClient.with(client) { node in
        try await node.submitDocument(body, json: client.json, restate: file.restate)
    }
}

extension NodeClient {
    /// Posts a document and prints it: a sentence, its id and a table, or with `json` the node's answer.
    /// `restate` rewrites a refusal about one line in the words of where the lines came from.
    func submitDocument(_ body: API.DocumentBody, json: Bool, restate: (CLIError) -> CLIError) async throws {
        let reply: NodeClient.Reply
        do {
            reply = try await send(.POST, "/v1/documents", json: body)
        } catch let error as CLIError {
            throw restate(error)
        }
        if json { return try JSONOutput.print(raw: reply.body) }
        let document = try decode(API.Document.self, reply)
        print(document.summary)
        print("document \(document.id)" + (reply.status == 200 ? " (already recorded; nothing changed)" : ""))
        print(document.table.render())
    }
}

extension API.Document {
    /// One sentence: what the document did and where (its id goes on the next line, so that both fit 100 columns).
    var summary: String {
        let units = Formatting.count(lines.reduce(Int64(0)) { $0 + $1.quantity })
        let products = lines.count == 1 ? "1 product" : "\(Formatting.count(lines.count)) products"
        switch type {
        case "receive": return "received \(units) units of \(products) at \(warehouse)"
        case "sell": return "sold \(units) units of \(products) at \(warehouse)"
        case "transfer": return "shipped \(units) units of \(products) from \(warehouse) to \(to.orDash)"
        default:
            let adjusted = lines.filter { $0.movement != nil }.count
            return "counted \(products) at \(warehouse): \(Formatting.count(adjusted)) adjusted, \(Formatting.count(lines.count - adjusted)) already right"
        }
    }

    /// The lines: SKU, quantity (or counted and adjustment) and the movement recorded.
    var table: Table {
        if type == "count" {
            return Table(
                headers: ["SKU", "COUNTED", "ADJUSTMENT", "MOVEMENT"],
                rows: lines.map { [$0.sku, Formatting.count($0.counted ?? $0.quantity), Formatting.signed($0.adjustment ?? 0), $0.movement ?? "-"] },
                numeric: [1, 2], fixed: [3])
        }
        return Table(
            headers: ["SKU", "QUANTITY", "MOVEMENT"],
            rows: lines.map { [$0.sku, Formatting.count($0.quantity), $0.movement ?? "-"] },
            numeric: [1], fixed: [2])
    }
}

struct Count: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record a stocktake from a file of counted quantities; each product is adjusted to its count.",
        discussion: """
            The file is CSV with the header sku,quantity (the quantity counted). Each adjustment is the count minus \
            the stock on hand when the file is submitted; a product already right records nothing.
            """)
    @OptionGroup var file: DocumentFileOption
    @Option(help: "Why, recorded with each adjustment (default: count).") var reason: String?
    @OptionGroup var movement: MovementOptions
    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard file.file != nil else { throw ValidationError("inv count needs --file FILE (CSV with the header sku,quantity)") }
    }

    func run() async throws {
        try await postDocument(type: .count, file: file.file ?? "-", reason: reason, movement: movement, client: client)
    }
}

struct DocumentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "document", abstract: "Show documents (receipts, sales, shipments and counts recorded with --file).",
        subcommands: [Show.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one document and the movement of each line.")
        @Argument(help: "The document id.") var id: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            try await NodeClient.with(client) { node in
                let reply = try await node.send(.GET, "/v1/documents/\(id)")
                if client.json { return try JSONOutput.print(raw: reply.body) }
                let document = try node.decode(API.Document.self, reply)
                print(document.summary)
                var details = "document \(document.id) by \(document.user) at \(Formatting.time(document.timestamp))"
                if let reference = document.reference { details += ", reference \(reference)" }
                if let reason = document.reason { details += ", reason \(reason)" }
                print(details)
                print(document.table.render())
            }
        }
    }
}
