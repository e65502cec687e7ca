import ArgumentParser
import Foundation
import NIOHTTP1
import Store
import SyncServer

/// The catalogue's CSV columns, as `inv product list --format csv` writes them and `inv import products` reads them.
enum CatalogueCSV {
    static let columns = ["sku", "name", "description", "price", "reorder_point", "barcodes"]

    /// One product as a CSV line (the shared writer: quoted as needed, formula starts neutralised).
    static func line(_ product: API.Product) -> String {
        SyncServer.CSV.line([
            .text(product.sku), .text(product.name), .text(product.description), .text(product.price ?? ""),
            product.reorderPoint.map { .number($0) } ?? .text(""), .text((product.barcodes ?? []).joined(separator: " ")),
        ])
    }

    /// The rows of a catalogue CSV, with the file line of each.
    ///
    /// - Throws: `CLIError` naming the line: a header other than the catalogue's columns (`barcodes` may be left
    ///   out), a row with another number of cells, a reorder point that is not a whole number. Barcodes are separated
    ///   by spaces.
    static func parse(_ text: String, name: String) throws -> (rows: [API.ProductBody], lines: [Int]) {
        let records = SyncServer.CSV.read(text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text)
        guard let header = records.first?.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }),
              header == columns || header == Array(columns.dropLast())
        else {
            throw CLIError("\(name) line 1: the header must be \(columns.joined(separator: ","))")
        }
        var rows: [API.ProductBody] = []
        var lines: [Int] = []
        for (index, record) in records.enumerated().dropFirst() {
            let number = index + 1
            if record.allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) { continue }
            guard record.count == header.count else {
                throw CLIError("\(name) line \(number): expected \(header.count) cells (\(header.joined(separator: ","))), got \(record.count)")
            }
            let point = record[4].trimmingCharacters(in: .whitespaces)
            var reorderPoint: Int64?
            if !point.isEmpty {
                guard let value = Int64(point) else {
                    throw CLIError("\(name) line \(number): reorder_point must be a whole number or empty, got \(point.debugDescription.prefix(40))")
                }
                reorderPoint = value
            }
            let price = record[3].trimmingCharacters(in: .whitespaces)
            // Description and barcodes are always sent, empty or not.
            rows.append(API.ProductBody(
                sku: record[0].trimmingCharacters(in: .whitespaces), name: record[1], description: record[2],
                price: price.isEmpty ? nil : price, reorderPoint: reorderPoint,
                barcodes: header.count == 6 ? record[5].split(separator: " ").map(String.init) : []))
            lines.append(number)
        }
        guard !rows.isEmpty else { throw CLIError("\(name) has no products after its header") }
        return (rows, lines)
    }
}

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import data from CSV files (needs an admin token).", subcommands: [Products.self])

    struct Products: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or update products from a CSV file, all or none.",
            discussion: """
                The header is sku,name,description,price,reorder_point,barcodes (as `inv product list --format csv` \
                writes it). A row for an existing product changes only the fields that differ; an empty price or \
                reorder point means none. A bad row is refused with its line number and nothing is written.
                """)
        @Argument(help: ArgumentHelp("The CSV file (- reads standard input).", valueName: "file")) var file: String
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let name = file == "-" ? "standard input" : file
            let data: Data
            if file == "-" { data = FileHandle.standardInput.readDataToEndOfFile() } else {
                guard let contents = FileManager.default.contents(atPath: file) else { throw CLIError("cannot read \(file)") }
                data = contents
            }
            guard let text = String(data: data, encoding: .utf8) else { throw CLIError("\(name) is not UTF-8 text") }
            let parsed = try CatalogueCSV.parse(text, name: name)
            try await NodeClient.with(client) { node in
                let reply: NodeClient.Reply
                do {
                    reply = try await node.send(.POST, "/v1/imports/products", json: API.ImportBody(products: parsed.rows))
                } catch let error as CLIError {
                    guard let line = error.line, line >= 1, line <= parsed.lines.count else { throw error }
                    var message = error.description
                    if message.hasPrefix("line \(line): ") { message.removeFirst("line \(line): ".count) }
                    throw CLIError("\(name) line \(parsed.lines[line - 1]): \(message)", status: error.status)
                }
                if client.json { return try JSONOutput.print(raw: reply.body) }
                let result = try node.decode(API.ImportResult.self, reply)
                let total = result.created + result.updated + result.unchanged
                print("imported \(Formatting.count(total)) \(total == 1 ? "product" : "products"): \(Formatting.count(result.created)) created, \(Formatting.count(result.updated)) updated, \(Formatting.count(result.unchanged)) unchanged")
            }
        }
    }
}
