import Foundation
import SyncServer

/// Prints values as JSON (for scripts) with stable key order.
enum JSONOutput {
    static func print(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        Swift.print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// Passes the node's JSON through unchanged apart from formatting.
    static func print(raw data: Data) throws {
        let object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        let pretty = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
        Swift.print(String(decoding: pretty, as: UTF8.self))
    }
}

extension API.Movement {
    /// Names the operation in the ledger: its origin and sequence.
    var ledgerKey: String { "\(origin):\(sequence)" }

    /// The other warehouse of a transfer (`to SEV`) or an accept (`from MAD`); empty otherwise.
    var counterpartText: String {
        guard let counterpart else { return "" }
        switch type {
        case "transfer": return "to \(counterpart)"
        case "accept": return "from \(counterpart)"
        case "return": return "back to \(counterpart)"
        default: return counterpart
        }
    }

    var summary: String {
        var text = "\(type) \(quantity) x \(sku)"
        if let warehouse { text += " at \(warehouse)" }
        if type == "transfer", let counterpart { text += " to \(counterpart)" }
        return text + " (movement \(id))"
    }
}

extension Optional where Wrapped == String {
    var orDash: String { self ?? "-" }
}
