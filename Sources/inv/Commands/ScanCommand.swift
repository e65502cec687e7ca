import ArgumentParser
import Foundation
import NIOHTTP1
import Store
import SyncServer

/// What one line typed by a barcode scanner (or a person) means.
enum ScanInput: Equatable {
    /// `CODE` (1), `CODE*5` or `5*CODE`.
    case item(code: String, quantity: Int64)
    /// `undo`: drop the last line.
    case undo
    /// An empty line: commit the batch.
    case commit

    /// - Throws: `CLIError` for a quantity that is not a whole number from 1 to 1000000000, or an empty code.
    init(_ raw: String) throws {
        let text = raw.trimmingCharacters(in: .whitespaces)
        if text.isEmpty {
            self = .commit
            return
        }
        if text.lowercased() == "undo" {
            self = .undo
            return
        }
        let parts = text.split(separator: "*", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var code = text
        var quantity: Int64 = 1
        if parts.count == 2 {
            // Barcodes are digits too: when both sides are numbers, the longer one is the code.
            switch (Int64(parts[0]), Int64(parts[1])) {
            case let (left?, right?): (quantity, code) = parts[0].count < parts[1].count ? (left, parts[1]) : (right, parts[0])
            case let (left?, nil): (quantity, code) = (left, parts[1])
            case let (nil, right?): (quantity, code) = (right, parts[0])
            case (nil, nil): throw CLIError("\(text.debugDescription.prefix(40)): write CODE, CODE*5 or 5*CODE")
            }
        } else if parts.count > 2 {
            throw CLIError("\(text.debugDescription.prefix(40)): write CODE, CODE*5 or 5*CODE")
        }
        guard !code.isEmpty else { throw CLIError("\(text.debugDescription.prefix(40)): the code is missing") }
        guard Quantity.range.contains(quantity) else {
            throw CLIError("quantity must be a whole number from 1 to 1000000000, got \(quantity)")
        }
        self = .item(code: code, quantity: quantity)
    }
}

struct Scan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record a document from a barcode scanner: one code per line on standard input.",
        discussion: """
            CODE adds 1, CODE*5 or 5*CODE adds 5 (a SKU works as well as a barcode), undo drops the last line, and \
            an empty line or the end of input records the whole batch as one document. On a terminal each line is \
            shown as it is read (product and running quantity) and an unknown code is refused at once, keeping the \
            batch; otherwise nothing is printed until the document.
            """)

    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case receive, sell, count, transfer

        var documentType: DocumentType {
            switch self {
            case .receive: .receive
            case .sell: .sell
            case .count: .count
            case .transfer: .transfer
            }
        }
    }

    @Argument(help: "receive, sell, count or transfer.") var kind: Kind
    @Option(help: "The destination warehouse (transfer only).") var to: String?
    @Option(help: "Why, recorded with each movement.") var reason: String?
    @OptionGroup var movement: MovementOptions
    @OptionGroup var client: ClientOptions

    func validate() throws {
        if kind == .transfer, to == nil { throw ValidationError("inv scan transfer needs --to WAREHOUSE") }
        if kind != .transfer, to != nil { throw ValidationError("only inv scan transfer takes --to") }
    }

    func run() async throws {
        let interactive = isatty(STDIN_FILENO) != 0
        try await NodeClient.with(client) { node in
            var lines: [API.DocumentBody.Line] = []
            // A count's adjustments are taken against the stock on hand at the first scan.
            var firstScan: Date?
            func say(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }
            while let raw = readLine(strippingNewline: true) {
                let input: ScanInput
                do { input = try ScanInput(raw) } catch let error as CLIError {
                    guard interactive else { throw error }
                    say("refused: \(error.description) (not added)")
                    continue
                }
                switch input {
                case .commit:
                    break
                case .undo:
                    guard let last = lines.popLast() else {
                        if interactive { say("nothing to undo") }
                        continue
                    }
                    if interactive { say("undone: \(last.quantity) x \(last.sku)") }
                    continue
                case let .item(code, quantity):
                    if firstScan == nil { firstScan = Date() }
                    guard interactive else {
                        lines.append(API.DocumentBody.Line(sku: code, quantity: quantity))
                        continue
                    }
                    // On a terminal every code is looked up at once: an unknown one is refused and the batch kept.
                    let product: API.Product
                    do {
                        product = try node.decode(API.Product.self, try await node.send(.GET, "/v1/products/\(code)"))
                    } catch let error as CLIError where error.status == 404 {
                        say("unknown code \(code) (not added)")
                        continue
                    }
                    lines.append(API.DocumentBody.Line(sku: product.sku, quantity: quantity))
                    let total = lines.filter { $0.sku == product.sku }.reduce(Int64(0)) { $0 + $1.quantity }
                    say("\(Table.cut(product.name, to: 40)) (\(product.sku)): \(Formatting.count(total))")
                    continue
                }
                break
            }
            guard !lines.isEmpty else { throw CLIError("nothing scanned: no document recorded") }
            let body = API.DocumentBody(
                type: kind.documentType, lines: lines, to: to, reason: reason, reference: movement.reference, id: movement.id,
                startedAt: kind == .count ? firstScan.map { Date.ISO8601FormatStyle(includingFractionalSeconds: true).format($0) } : nil)
            try await node.submitDocument(body, json: client.json) { error in
                guard let line = error.line, line >= 1, line <= lines.count else { return error }
                var message = error.description
                if message.hasPrefix("line \(line): ") { message.removeFirst("line \(line): ".count) }
                return CLIError("scan \(line) (\(lines[line - 1].sku)): \(message)", status: error.status, line: line)
            }
        }
    }
}
