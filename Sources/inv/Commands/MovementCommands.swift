import ArgumentParser
import Foundation
import NIOHTTP1
import Store
import SyncServer

/// The QUANTITY of a receipt, sale or transfer, checked on the client.
///
/// A negative number looks like an option to ArgumentParser, which then reported "Missing expected argument"; the
/// commands collect what the parser does not recognise instead (as `inv adjust` does for its signed DELTA) and
/// check it here, with the same message as the node's for a quantity out of range.
///
/// - Throws: `ValidationError` unless `arguments` is one whole number in `Quantity.range`.
func positiveQuantity(_ arguments: [String]) throws -> Int64 {
    guard arguments.count == 1, let value = Int64(arguments[0]) else {
        let text = arguments.isEmpty ? "nothing" : arguments.joined(separator: " ")
        throw ValidationError(
            "quantity must be a whole number from \(Quantity.range.lowerBound) to \(Quantity.range.upperBound), got \(text)")
    }
    do { try Quantity.validate(value) } catch { throw ValidationError(error.description) }
    return value
}

/// Checks the arguments of a command that takes either `SKU QUANTITY` or `--file FILE` (a document).
///
/// - Throws: `ValidationError` for both or neither, or a bad quantity.
func validateSingleOrFile(sku: String?, quantityArguments: [String], file: String?, command: String) throws {
    if file != nil {
        guard sku == nil, quantityArguments.isEmpty else {
            throw ValidationError("give either SKU QUANTITY or --file FILE, not both")
        }
        return
    }
    guard sku != nil else { throw ValidationError("inv \(command) needs SKU QUANTITY, or --file FILE (CSV with the header sku,quantity)") }
    _ = try positiveQuantity(quantityArguments)
}

/// Posts a movement and prints what was recorded.
func postMovement(_ body: API.MovementBody, client: ClientOptions, describe: (API.Movement) -> String) async throws {
    try await NodeClient.with(client) { node in
        let reply = try await node.postMovement(body)
        if client.json { return try JSONOutput.print(raw: reply.body) }
        let movement = try node.decode(API.Movement.self, reply)
        print(describe(movement) + (reply.status == 200 ? " (already recorded; nothing changed)" : ""))
    }
}

/// The arguments of a command that records one movement (`SKU QUANTITY`) or a document of them (`--file FILE`).
struct MovementOrDocument: ParsableArguments {
    @Argument(help: "SKU (or --file for many).") var sku: String?
    // A negative number looks like an option to the parser: collect what it does not recognise (see `positiveQuantity`).
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Quantity, 1 to 1000000000.", valueName: "quantity"))
    var quantityArguments: [String] = []
    @Option(help: "Why, recorded with the movement.") var reason: String?
    @OptionGroup var file: DocumentFileOption
    @OptionGroup var movement: MovementOptions
    @OptionGroup var client: ClientOptions

    func validate(command: String) throws {
        try validateSingleOrFile(sku: sku, quantityArguments: quantityArguments, file: file.file, command: command)
    }

    /// Posts the movement, or the document read from `--file`, and prints what was recorded.
    func record(_ type: MovementType, as document: DocumentType, describe: (API.Movement) -> String) async throws {
        if let path = file.file {
            return try await postDocument(type: document, file: path, reason: reason, movement: movement, client: client)
        }
        let quantity = (try? positiveQuantity(quantityArguments)) ?? 0
        try await postMovement(
            API.MovementBody(type: type, sku: sku ?? "", quantity: quantity, reason: reason, reference: movement.reference, id: movement.id),
            client: client, describe: describe)
    }
}

struct Receive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Record goods arriving (a purchase or a return).")
    @OptionGroup var arguments: MovementOrDocument

    func validate() throws { try arguments.validate(command: "receive") }

    func run() async throws {
        try await arguments.record(.receive, as: .receive) {
            "received \($0.quantity) x \($0.sku) at \($0.warehouse.orDash) (movement \($0.id))"
        }
    }
}

struct Sell: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Record a sale (refused if more than is on hand).")
    @OptionGroup var arguments: MovementOrDocument

    func validate() throws { try arguments.validate(command: "sell") }

    func run() async throws {
        try await arguments.record(.sell, as: .sell) { "sold \($0.quantity) x \($0.sku) at \($0.warehouse.orDash) (movement \($0.id))" }
    }
}

struct Adjust: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Correct a count by a signed amount, e.g. `inv adjust SKU -3 --reason damaged`.")
    @Argument(help: "SKU") var sku: String
    // A negative number looks like an option to the parser: collect what it does not recognise and read DELTA there.
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("The change, e.g. 5 or -3.", valueName: "delta")) var deltaArguments: [String] = []
    @Option(help: "Why (required), e.g. damaged or stocktake.") var reason: String?
    @OptionGroup var movement: MovementOptions
    @OptionGroup var client: ClientOptions

    var delta: Int64 { deltaArguments.first.flatMap { Int64($0) } ?? 0 }

    func validate() throws {
        guard deltaArguments.count == 1, let value = Int64(deltaArguments[0]) else {
            throw ValidationError("DELTA must be one whole number such as 5 or -3, got \(deltaArguments.joined(separator: " "))")
        }
        // The node's rule and words (a zero or out-of-range delta), as a usage error like any other bad quantity.
        do { try Quantity.validateDelta(value) } catch { throw ValidationError(error.description) }
        guard let reason = reason, !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ValidationError("an adjustment needs --reason")
        }
    }

    func run() async throws {
        try await postMovement(
            API.MovementBody(type: .adjust, sku: sku, quantity: delta, reason: reason, reference: movement.reference, id: movement.id),
            client: client) { "adjusted \($0.sku) by \($0.delta) at \($0.warehouse.orDash) (movement \($0.id))" }
    }
}

struct Transfer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Ship goods to another warehouse; they are in transit until it accepts them.")
    @Argument(help: "SKU (or --file for many).") var sku: String?
    // A negative number looks like an option to the parser: collect what it does not recognise (see `positiveQuantity`).
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Quantity, 1 to 1000000000.", valueName: "quantity"))
    var quantityArguments: [String] = []
    @Option(help: "The destination warehouse id.") var to: String
    @Option(help: "Why, recorded with the movement.") var reason: String?
    @OptionGroup var file: DocumentFileOption
    @OptionGroup var movement: MovementOptions
    @OptionGroup var client: ClientOptions

    var quantity: Int64 { (try? positiveQuantity(quantityArguments)) ?? 0 }

    func validate() throws {
        try validateSingleOrFile(sku: sku, quantityArguments: quantityArguments, file: file.file, command: "transfer")
    }

    func run() async throws {
        if let path = file.file {
            return try await postDocument(type: .transfer, file: path, to: to, reason: reason, movement: movement, client: client)
        }
        let sku = sku ?? ""
        try await NodeClient.with(client) { node in
            let body = API.MovementBody(
                type: .transfer, sku: sku, quantity: quantity, to: to, reason: reason, reference: movement.reference, id: movement.id)
            let reply = try await node.postMovement(body)
            if client.json { return try JSONOutput.print(raw: reply.body) }
            let recorded = try node.decode(API.Movement.self, reply)
            print(recorded.id)
            FileHandle.standardError.write(Data("shipped \(recorded.quantity) x \(recorded.sku) to \(recorded.counterpart.orDash); accept it there with `inv accept \(recorded.id)`\n".utf8))
        }
    }
}

struct Transfers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List goods in transit, or send goods in transit to this warehouse back to their source.",
        subcommands: [List.self, Return.self], defaultSubcommand: List.self)
}

extension Transfers {
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List goods in transit, to and from every warehouse, with the total per destination.")
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await NodeClient.with(client) { node in
            let reply = try await node.send(.GET, "/v1/transfers")
            if client.json { return try JSONOutput.print(raw: reply.body) }
            let transfers = try node.decode([API.Transfer].self, reply)
            if transfers.isEmpty { return print("no transfers in transit") }
            // Goods to or from a retired warehouse are stranded: only the destination may accept them.
            let retired = Set(try node.decode([API.Member].self, try await node.send(.GET, "/v1/peers")).filter(\.retired).map(\.warehouse))
            // A transfer is shown by the shortest prefix of its id (at least 8 characters) that no other listed one
            // shares: what `inv accept` and `inv transfers return` take, and it keeps the table within 100 columns.
            let ids = Self.shortestUniquePrefixes(of: transfers.map(\.id))
            print(Table(
                headers: ["ID", "SKU", "FROM", "TO", "IN TRANSIT", "SHIPPED", "ACCEPTED", "RETURNED", "SHIPPED AT"],
                rows: transfers.map {
                    [
                        ids[$0.id] ?? $0.id, $0.sku, $0.from, $0.to, Formatting.count($0.quantity), Formatting.count($0.shipped),
                        Formatting.count($0.accepted), Formatting.count($0.returned ?? 0), $0.shippedAt.map { Formatting.time($0) } ?? "-",
                    ]
                },
                numeric: [4, 5, 6, 7], fixed: [0, 8]).render())
            // Per destination: what each warehouse has yet to accept, in how many transfers (and lines, when a
            // transfer holds several).
            var perDestination: [String: (units: Int64, transfers: Set<String>, lines: Int)] = [:]
            for transfer in transfers {
                perDestination[transfer.to, default: (0, [], 0)].units += transfer.quantity
                perDestination[transfer.to, default: (0, [], 0)].transfers.insert(transfer.id)
                perDestination[transfer.to, default: (0, [], 0)].lines += 1
            }
            print("")
            for (destination, total) in perDestination.sorted(by: { $0.key < $1.key }) {
                var count = total.transfers.count == 1 ? "1 transfer" : "\(Formatting.count(total.transfers.count)) transfers"
                if total.lines > total.transfers.count { count += ", \(Formatting.count(total.lines)) lines" }
                print("in transit to \(destination): \(Formatting.count(total.units)) (\(count))")
            }
            for transfer in transfers {
                guard let gone = [transfer.to, transfer.from].first(where: retired.contains) else { continue }
                print("stranded: \(transfer.id) (\(Formatting.count(transfer.quantity)) x \(transfer.sku), \(transfer.from) to \(transfer.to); \(gone) is retired)")
            }
        }
    }

    /// For each distinct id, its shortest prefix of at least 8 characters that starts no other id of `ids` (the
    /// whole id when another id starts with it).
    static func shortestUniquePrefixes(of ids: [String]) -> [String: String] {
        let distinct = Array(Set(ids)).sorted()
        var prefixes: [String: String] = [:]
        for (index, id) in distinct.enumerated() {
            // In sorted order, the ids sharing the longest prefix with `id` are its neighbours.
            var shared = 0
            for neighbour in [index - 1, index + 1] where distinct.indices.contains(neighbour) {
                shared = max(shared, zip(id, distinct[neighbour]).prefix { $0 == $1 }.count)
            }
            prefixes[id] = String(id.prefix(max(8, shared + 1)))
        }
        return prefixes
    }
}

struct Return: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send goods in transit to this warehouse back to their source, as a transfer back it accepts.")
    @Argument(help: "The transfer id, or a unique prefix of at least 8 characters.") var transferID: String
    @Option(help: "Return only this product's line (default: every line with goods in transit).") var sku: String?
    @Option(help: "Return only part of the line (default: everything in transit).") var quantity: Int64?
    @Option(help: "Why the goods go back (required).") var reason: String
    @OptionGroup var movement: MovementOptions
    @OptionGroup var client: ClientOptions

    func validate() throws {
        if reason.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--reason must not be empty") }
    }

    func run() async throws {
        try await NodeClient.with(client) { node in
            let body = API.TransferLinesBody(sku: sku, quantity: quantity, reason: reason, reference: movement.reference, id: movement.id)
            let transferID = try await node.transferID(matching: transferID)
            let reply = try await node.send(.POST, "/v1/transfers/\(transferID)/return", json: body)
            if client.json { return try JSONOutput.print(raw: reply.body) }
            let returned = try node.decode(API.TransferLines.self, reply)
            for recorded in returned.movements {
                print("returned \(Formatting.count(recorded.quantity)) x \(recorded.sku) to \(recorded.counterpart.orDash) (movement \(recorded.id))")
            }
            if let back = returned.transferBack, let source = returned.movements.first?.counterpart {
                print("accept the transfer back at \(source) with `inv accept \(back)`")
            }
        }
    }
}
}

struct Accept: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Take goods in transit into this warehouse's stock.")
    @Argument(help: "The transfer id (printed by `inv transfer`), or a unique prefix of at least 8 characters.") var transferID: String
    @Option(help: "Accept only this product's line (default: every line with goods in transit).") var sku: String?
    @Option(help: "Accept only part (default: everything in transit).") var quantity: Int64?
    @Option(help: "Why, recorded with the movement.") var reason: String?
    @OptionGroup var movement: MovementOptions
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await NodeClient.with(client) { node in
            let body = API.TransferLinesBody(sku: sku, quantity: quantity, reason: reason, reference: movement.reference, id: movement.id)
            let transferID = try await node.transferID(matching: transferID)
            let reply = try await node.send(.POST, "/v1/transfers/\(transferID)/accept", json: body)
            if client.json { return try JSONOutput.print(raw: reply.body) }
            // One line answers its movement; several answer every line's.
            let movements: [API.Movement]
            if let lines = try? node.decode(API.TransferLines.self, reply) { movements = lines.movements } else {
                movements = [try node.decode(API.Movement.self, reply)]
            }
            for recorded in movements {
                print("accepted \(recorded.quantity) x \(recorded.sku) from \(recorded.counterpart.orDash) (movement \(recorded.id))")
            }
        }
    }
}

extension NodeClient {
    /// The transfer `typed` names: itself when it is a whole UUID, else the one transfer in transit whose id starts
    /// with it (at least 8 characters, any case), as people copy ids by hand.
    /// - Throws: `CLIError` for a prefix that is too short, matches no transfer in transit, or matches several.
    func transferID(matching typed: String) async throws -> String {
        if let canonical = MovementID.canonical(typed) { return canonical }
        let prefix = typed.lowercased()
        guard prefix.count >= 8 else {
            throw CLIError("give the transfer id or at least its first 8 characters, got \(typed.debugDescription.prefix(40))")
        }
        let transfers = try decode([API.Transfer].self, try await send(.GET, "/v1/transfers"))
        let matches = Set(transfers.map(\.id).filter { $0.hasPrefix(prefix) }).sorted()
        switch matches.count {
        case 1: return matches[0]
        case 0: throw CLIError("no transfer in transit has an id starting with \(typed) (see `inv transfers`)")
        default: throw CLIError("\(typed) starts \(matches.count) transfers in transit (\(matches.prefix(3).joined(separator: ", "))); give more characters")
        }
    }

    /// Posts a movement; a SKU the node does not know is retried once as the one product it names in another case
    /// (`chair-01` for `CHAIR-01`), so that look-ups accept any case without a round trip when the case is right.
    func postMovement(_ body: API.MovementBody) async throws -> Reply {
        do {
            return try await send(.POST, "/v1/movements", json: body)
        } catch let error as CLIError where error.status == 404 {
            guard let resolved = try? await resolveSKU(body.sku), resolved != body.sku else { throw error }
            var body = body
            body.sku = resolved
            return try await send(.POST, "/v1/movements", json: body)
        }
    }
}
