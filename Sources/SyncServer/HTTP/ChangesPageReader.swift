import Foundation

extension API.ChangesPage {
    /// Reads a change-feed answer: by ``ChangesPageReader`` when the JSON has the feed's shape, else (and for its
    /// error) by `JSONDecoder`, so both paths accept and refuse the same documents.
    public static func decode(json data: Data) throws -> API.ChangesPage {
        if let page = ChangesPageReader.read(data) { return page }
        return try JSONDecoder().decode(API.ChangesPage.self, from: data)
    }
}

/// A reader of the change feed's JSON written by hand, for programs that read the feed in bulk (the PostgreSQL
/// mirror): `JSONDecoder` cost the mirror about four fifths of its CPU, some 14 µs per operation.
///
/// It reads what ``API/ChangesPage`` decodes from — objects of strings, integers, booleans and nulls, any key order,
/// any whitespace, every JSON string escape — and skips keys it does not know, as `Decodable` does. Anything else
/// (a missing key, a number where a string belongs, a fraction, invalid UTF-8) makes it answer `nil`, and the
/// caller falls back to `JSONDecoder`, whose error then names the problem; a test compares the two on random pages.
enum ChangesPageReader {
    static func read(_ data: Data) -> API.ChangesPage? {
        data.withUnsafeBytes { raw -> API.ChangesPage? in
            var scanner = Scanner(bytes: raw.bindMemory(to: UInt8.self))
            return try? scanner.page()
        }
    }

    private struct Mismatch: Error {}

    /// An object key as read, compared without building a string: its length and first eight bytes, which tell
    /// every key of the feed's objects apart. A key written with an escape is not matched, so its object falls back
    /// to `JSONDecoder`.
    private struct Key: Equatable {
        var length: Int
        var prefix: UInt64

        init(_ bytes: UnsafeBufferPointer<UInt8>) {
            length = bytes.count
            if length >= 8, let start = bytes.baseAddress {
                prefix = UInt64(littleEndian: UnsafeRawPointer(start).loadUnaligned(as: UInt64.self))
                return
            }
            prefix = 0
            for position in 0..<length { prefix |= UInt64(bytes[position]) << (8 * position) }
        }

        init(_ text: StaticString) {
            self.init(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        }

    }

    /// The keys the reader knows, built once per page: as `static let`s, each comparison paid for a check that the
    /// constant was initialised.
    private struct Keys {
        let changes = Key("changes"), next = Key("next"), waitingFor = Key("waiting_for"), more = Key("more")
        let id = Key("id"), type = Key("type"), sku = Key("sku"), warehouse = Key("warehouse")
        let quantity = Key("quantity"), delta = Key("delta"), origin = Key("origin"), sequence = Key("sequence")
        let timestamp = Key("timestamp"), user = Key("user"), reason = Key("reason"), reference = Key("reference")
        let transferID = Key("transfer_id"), counterpart = Key("counterpart"), document = Key("document")
        let hlc = Key("hlc")
    }

    private struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0
        let keys = Keys()

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        mutating func page() throws -> API.ChangesPage {
            var changes: [API.Change]?
            var next: String?
            var waitingFor: [String]?
            var more: Bool?
            try object { scanner, key in
                switch key {
                case scanner.keys.changes: changes = try scanner.array { try $0.change() }
                case scanner.keys.next: next = try scanner.string()
                case scanner.keys.waitingFor: waitingFor = try scanner.array { try $0.string() }
                case scanner.keys.more: more = try scanner.bool()
                default: try scanner.skipValue()
                }
            }
            skipWhitespace()
            guard index == bytes.count, let changes, let next, let waitingFor, let more else { throw Mismatch() }
            return API.ChangesPage(changes: changes, next: next, waitingFor: waitingFor, more: more)
        }

        mutating func change() throws -> API.Change {
            var id: String?, type: String?, sku: String?, origin: String?, timestamp: String?, user: String?, hlc: String?
            var warehouse: String?, reason: String?, reference: String?, transferID: String?, counterpart: String?
            var document: String?
            var quantity: Int64?, delta: Int64?, sequence: UInt64?
            try object { scanner, key in
                switch key {
                case scanner.keys.id: id = try scanner.string()
                case scanner.keys.type: type = try scanner.string()
                case scanner.keys.sku: sku = try scanner.string()
                case scanner.keys.warehouse: warehouse = try scanner.optionalString()
                case scanner.keys.quantity: quantity = try scanner.integer()
                case scanner.keys.delta: delta = try scanner.integer()
                case scanner.keys.origin: origin = try scanner.string()
                case scanner.keys.sequence: sequence = try scanner.unsignedInteger()
                case scanner.keys.timestamp: timestamp = try scanner.string()
                case scanner.keys.user: user = try scanner.string()
                case scanner.keys.reason: reason = try scanner.optionalString()
                case scanner.keys.reference: reference = try scanner.optionalString()
                case scanner.keys.transferID: transferID = try scanner.optionalString()
                case scanner.keys.counterpart: counterpart = try scanner.optionalString()
                case scanner.keys.document: document = try scanner.optionalString()
                case scanner.keys.hlc: hlc = try scanner.string()
                default: try scanner.skipValue()
                }
            }
            guard let id, let type, let sku, let quantity, let delta, let origin, let sequence, let timestamp, let user,
                let hlc
            else { throw Mismatch() }
            let movement = API.Movement(
                id: id, type: type, sku: sku, warehouse: warehouse, quantity: quantity, delta: delta, origin: origin,
                sequence: sequence, timestamp: timestamp, user: user, reason: reason, reference: reference,
                transferID: transferID, counterpart: counterpart, document: document)
            return API.Change(movement: movement, hlc: hlc)
        }

        // MARK: - JSON

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func consume(_ byte: UInt8) throws {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == byte else { throw Mismatch() }
            index += 1
        }

        mutating func peek() -> UInt8? {
            skipWhitespace()
            return index < bytes.count ? bytes[index] : nil
        }

        /// Calls `member` with each key of an object; `member` reads the value from the scanner it is given.
        mutating func object(_ member: (inout Scanner, Key) throws -> Void) throws {
            try consume(UInt8(ascii: "{"))
            if peek() == UInt8(ascii: "}") {
                index += 1
                return
            }
            while true {
                let key = try key()
                try consume(UInt8(ascii: ":"))
                try member(&self, key)
                guard let separator = peek() else { throw Mismatch() }
                index += 1
                if separator == UInt8(ascii: "}") { return }
                guard separator == UInt8(ascii: ",") else { throw Mismatch() }
            }
        }

            /// Reads an array, each element by `element`.
        mutating func array<Element>(_ element: (inout Scanner) throws -> Element) throws -> [Element] {
            try consume(UInt8(ascii: "["))
            var elements: [Element] = []
            if peek() == UInt8(ascii: "]") {
                index += 1
                return elements
            }
            while true {
                elements.append(try element(&self))
                guard let separator = peek() else { throw Mismatch() }
                index += 1
                if separator == UInt8(ascii: "]") { return elements }
                guard separator == UInt8(ascii: ",") else { throw Mismatch() }
            }
        }

        mutating func bool() throws -> Bool {
            if try literal("true") { return true }
            if try literal("false") { return false }
            throw Mismatch()
        }

        mutating func optionalString() throws -> String? {
            if try literal("null") { return nil }
            return try string()
        }

        /// Whether `word` comes next (consumed if so).
        mutating func literal(_ word: StaticString) throws -> Bool {
            skipWhitespace()
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { return false }
            let matches = word.withUTF8Buffer { expected in
                (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
            }
            if matches { index += count }
            return matches
        }

        mutating func integer() throws -> Int64 {
            skipWhitespace()
            let negative = index < bytes.count && bytes[index] == UInt8(ascii: "-")
            if negative { index += 1 }
            let magnitude = try digits()
            if negative {
                guard magnitude <= UInt64(Int64.max) + 1 else { throw Mismatch() }
                return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
            }
            guard magnitude <= UInt64(Int64.max) else { throw Mismatch() }
            return Int64(magnitude)
        }

        mutating func unsignedInteger() throws -> UInt64 {
            skipWhitespace()
            return try digits()
        }

        /// A whole number's digits: no leading zero, no fraction or exponent (those go to `JSONDecoder`).
        mutating func digits() throws -> UInt64 {
            let start = index
            var value: UInt64 = 0
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                let digit = UInt64(bytes[index] - UInt8(ascii: "0"))
                let (times, overflowTimes) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflowSum) = times.addingReportingOverflow(digit)
                guard !overflowTimes, !overflowSum else { throw Mismatch() }
                value = sum
                index += 1
            }
            guard index > start, bytes[start] != UInt8(ascii: "0") || index == start + 1 else { throw Mismatch() }
            if index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): throw Mismatch()
                default: break
                }
            }
            return value
        }

        /// An object key of ASCII with no escape (any other key makes the caller fall back to `JSONDecoder`).
        mutating func key() throws -> Key {
            try consume(UInt8(ascii: "\""))
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                guard bytes[index] != UInt8(ascii: "\\"), bytes[index] >= 0x20, bytes[index] < 0x80 else { throw Mismatch() }
                index += 1
            }
            guard index < bytes.count else { throw Mismatch() }
            defer { index += 1 }
            return Key(UnsafeBufferPointer(rebasing: bytes[start..<index]))
        }

        mutating func string() throws -> String {
            try consume(UInt8(ascii: "\""))
            let start = index
            var ascii = true
            // The common case: no escape, so the text is the bytes between the quotes.
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let text = UnsafeBufferPointer(rebasing: bytes[start..<index])
                    index += 1
                    // ASCII needs no validation; anything else must be valid UTF-8, as `JSONDecoder` requires.
                    if ascii { return String(decoding: text, as: UTF8.self) }
                    guard let string = String(validating: text, as: UTF8.self) else { throw Mismatch() }
                    return string
                }
                if byte == UInt8(ascii: "\\") { break }
                guard byte >= 0x20 else { throw Mismatch() }
                if byte >= 0x80 { ascii = false }
                index += 1
            }
            var utf8 = Array(bytes[start..<index])
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    guard let string = String(validating: utf8, as: UTF8.self) else { throw Mismatch() }
                    return string
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { throw Mismatch() }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
                    case UInt8(ascii: "b"): utf8.append(0x08)
                    case UInt8(ascii: "f"): utf8.append(0x0C)
                    case UInt8(ascii: "n"): utf8.append(0x0A)
                    case UInt8(ascii: "r"): utf8.append(0x0D)
                    case UInt8(ascii: "t"): utf8.append(0x09)
                    case UInt8(ascii: "u"): utf8.append(contentsOf: try unicodeEscape())
                    default: throw Mismatch()
                    }
                case 0..<0x20: throw Mismatch()
                default: utf8.append(byte)
                }
            }
            throw Mismatch()
        }

        /// The UTF-8 of a `\u` escape (after `\u`), joining a surrogate pair.
        mutating func unicodeEscape() throws -> [UInt8] {
            let first = try hex4()
            var scalar: Unicode.Scalar?
            if (0xD800...0xDBFF).contains(first) {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw Mismatch()
                }
                index += 2
                let second = try hex4()
                guard (0xDC00...0xDFFF).contains(second) else { throw Mismatch() }
                scalar = Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
            } else {
                scalar = Unicode.Scalar(first)
            }
            guard let scalar else { throw Mismatch() }
            return Array(String(Character(scalar)).utf8)
        }

        mutating func hex4() throws -> UInt32 {
            guard index + 4 <= bytes.count else { throw Mismatch() }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                index += 1
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw Mismatch()
                }
                value = value << 4 | UInt32(digit)
            }
            return value
        }

        /// Skips a value of a key this reader does not know.
        mutating func skipValue() throws {
            guard let next = peek() else { throw Mismatch() }
            switch next {
            case UInt8(ascii: "\""): _ = try string()
            case UInt8(ascii: "{"): try object { scanner, _ in try scanner.skipValue() }
            case UInt8(ascii: "["): _ = try array { try $0.skipValue() }
            case UInt8(ascii: "t"), UInt8(ascii: "f"): _ = try bool()
            case UInt8(ascii: "n"): guard try literal("null") else { throw Mismatch() }
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try integer()
            default: throw Mismatch()
            }
        }
    }
}

extension API.Movement {
    init(
        id: String, type: String, sku: String, warehouse: String?, quantity: Int64, delta: Int64, origin: String,
        sequence: UInt64, timestamp: String, user: String, reason: String?, reference: String?, transferID: String?,
        counterpart: String?, document: String?
    ) {
        self.id = id
        self.type = type
        self.sku = sku
        self.warehouse = warehouse
        self.quantity = quantity
        self.delta = delta
        self.origin = origin
        self.sequence = sequence
        self.timestamp = timestamp
        self.user = user
        self.reason = reason
        self.reference = reference
        self.transferID = transferID
        self.counterpart = counterpart
        self.document = document
    }
}

extension API.Change {
    init(movement: API.Movement, hlc: String) {
        self.movement = movement
        self.hlc = hlc
    }
}
