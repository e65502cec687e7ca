import CRDT
import NIOCore
import Store

/// A minimal JSON writer for the hottest answers (`POST /v1/movements`), where `JSONEncoder` was a measurable
/// share of each request. It writes exactly what `JSONEncoder` with `.sortedKeys` writes for the same value —
/// same escaping (including `\/`), `null` for absent values, no spaces — so clients see one format whichever
/// path answered; a test compares the two byte for byte.
///
/// Keys must be written in sorted order by the caller.
struct JSONText {
    // Bytes in an array, handed to NIO once at the end: written through `ByteBuffer`, each small write paid for a
    // capacity check and an exclusivity check on its storage, about a fifth of the node's CPU serving a catch-up.
    private var bytes: [UInt8]
    private var needsComma = false

    init(capacity: Int = 512) {
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    mutating func key(_ name: StaticString) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = true
        bytes.append(UInt8(ascii: "\""))
        append(name)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func field(_ name: StaticString, _ value: String?) {
        key(name)
        guard let value else { return append("null") }
        writeString(value)
    }

    /// A text given as its UTF-8 bytes (`nil`: `null`).
    /// - Throws: ``InvalidUTF8`` when the bytes are not UTF-8, as `JSONEncoder` could not have been given them.
    mutating func field(_ name: StaticString, utf8 value: UnsafeRawBufferPointer?) throws {
        key(name)
        guard let value else { return append("null") }
        // ASCII, almost every text, needs no further check.
        if !value.allSatisfy({ $0 < 0x80 }), String(validating: value, as: UTF8.self) == nil { throw InvalidUTF8() }
        writeString(utf8: value)
    }

    struct InvalidUTF8: Error {}

    mutating func field(_ name: StaticString, _ value: Int64?) {
        key(name)
        guard let value else { return append("null") }
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        bytes.appendDecimal(value.magnitude)
    }

    mutating func field(_ name: StaticString, _ value: UInt64) {
        key(name)
        bytes.appendDecimal(value)
    }

    mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        append(value ? "true" : "false")
    }

    /// Opens an array as the value of `name`.
    mutating func beginArray(_ name: StaticString) {
        key(name)
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    /// Opens an object as the next element of the array being written.
    mutating func beginObjectElement() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    /// A string as the next element of the array being written.
    mutating func stringElement(_ value: String) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        writeString(value)
        needsComma = true
    }

    /// Closes the object opened by ``beginObjectElement()``.
    mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// Closes the array opened by ``beginArray(_:)``.
    mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Closes the object and returns its bytes.
    mutating func finish() -> ByteBuffer {
        bytes.append(UInt8(ascii: "}"))
        return ByteBuffer(bytes: bytes)
    }

    private static let hex = Array("0123456789abcdef".utf8)

    private mutating func append(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "/")
    }

    private mutating func writeString(_ value: String) {
        var value = value
        value.withUTF8 { writeString(utf8: UnsafeRawBufferPointer($0)) }
    }

    private mutating func writeString(utf8: UnsafeRawBufferPointer) {
        bytes.append(UInt8(ascii: "\""))
        defer { bytes.append(UInt8(ascii: "\"")) }
        // Almost every text needs no escape: then it is copied whole, not byte by byte.
        guard utf8.contains(where: Self.needsEscape) else { return bytes.append(contentsOf: utf8) }
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case UInt8(ascii: "/"): append("\\/")
            case 0x08: append("\\b")
            case 0x0C: append("\\f")
            case 0x0A: append("\\n")
            case 0x0D: append("\\r")
            case 0x09: append("\\t")
            case 0..<0x20:
                append("\\u00")
                bytes.append(Self.hex[Int(byte >> 4)])
                bytes.append(Self.hex[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
    }
}

extension API.Movement {
    /// This movement as `JSONEncoder` with `.sortedKeys` writes it, without `JSONEncoder`.
    func sortedJSON() -> ByteBuffer {
        var json = JSONText()
        writeSortedFields(into: &json)
        return json.finish()
    }

    /// Writes the movement's fields in sorted key order, with `hlc` among them when given (a change-feed entry),
    /// and `on_hand` when given (an event).
    func writeSortedFields(into json: inout JSONText, hlc: String? = nil, onHand: Int64? = nil) {
        json.field("counterpart", counterpart)
        json.field("delta", delta)
        json.field("document", document)
        if let hlc { json.field("hlc", hlc) }
        json.field("id", id)
        if let onHand { json.field("on_hand", onHand) }
        json.field("origin", origin)
        json.field("quantity", quantity)
        json.field("reason", reason)
        json.field("reference", reference)
        json.field("sequence", sequence)
        json.field("sku", sku)
        json.field("timestamp", timestamp)
        json.field("transfer_id", transferID)
        json.field("type", type)
        json.field("user", user)
        json.field("warehouse", warehouse)
    }
}

extension EventsController.MovementEvent {
    /// This event as `JSONEncoder` with `.sortedKeys` writes it, without `JSONEncoder`: every node with an event
    /// client encodes each movement it commits or merges, and `JSONEncoder` was about a twentieth of a node's CPU
    /// per write (`inv-bench fanout`).
    func sortedJSON() -> ByteBuffer {
        var json = JSONText()
        movement.writeSortedFields(into: &json, onHand: onHand)
        return json.finish()
    }
}

extension API.ChangesPage {
    /// This page as `JSONEncoder` with `.sortedKeys` writes it, without `JSONEncoder` (which cost the node about
    /// three quarters of its CPU serving a catch-up of the PostgreSQL mirror).
    func sortedJSON() -> ByteBuffer {
        var json = JSONText.changesPage(capacity: 128 + changes.count * 320)
        for change in changes {
            json.beginObjectElement()
            change.movement.writeSortedFields(into: &json, hlc: change.hlc)
            json.endObject()
        }
        return json.finishChangesPage(more: more, next: next, waitingFor: waitingFor)
    }
}

extension JSONText {
    /// A change-feed page up to its first entry: `{"changes":[`.
    static func changesPage(capacity: Int) -> JSONText {
        var json = JSONText(capacity: capacity)
        json.beginArray("changes")
        return json
    }

    /// Closes a page opened by ``changesPage(capacity:)``, with the keys after `changes`.
    mutating func finishChangesPage(more: Bool, next: String, waitingFor: [String]) -> ByteBuffer {
        endArray()
        field("more", more)
        field("next", next)
        beginArray("waiting_for")
        for origin in waitingFor { stringElement(origin) }
        endArray()
        return finish()
    }

    /// A change-feed entry written straight from its stored row: the bytes `API.Change(operation)` encodes to,
    /// with no operation, history entry or string built (``LedgerRowView``). A test compares the two on random
    /// operations.
    /// - Throws: ``InvalidUTF8`` for a stored text that is not UTF-8.
    mutating func change(_ row: LedgerRowView) throws {
        beginObjectElement()
        let end: MovementRecord.TransferEnd? = MovementRecord.counterpart(of: row.kind)
        try row.withUTF8(end == .destination ? .transferTo : .transferFrom) { try field("counterpart", utf8: end == nil ? nil : $0) }
        field("delta", row.delta)
        try row.withUTF8(.document) { try field("document", utf8: $0) }
        // A number as a string, as `API.Change` holds it.
        key("hlc")
        bytes.append(UInt8(ascii: "\""))
        bytes.appendDecimal(row.timestamp.rawValue)
        bytes.append(UInt8(ascii: "\""))
        try row.withUTF8(.movementID) { id in
            guard id == nil else { return try field("id", utf8: id) }
            field("id", "\(row.origin.rawValue):\(row.sequence)")
        }
        field("origin", row.origin.rawValue)
        field("quantity", MovementRecord.quantity(kind: row.kind, delta: row.delta, returned: row.transferBackShipped))
        try row.withUTF8(.reason) { try field("reason", utf8: $0) }
        try row.withUTF8(.reference) { try field("reference", utf8: $0) }
        field("sequence", row.sequence)
        try row.withUTF8(.sku) { try field("sku", utf8: $0) }
        key("timestamp")
        bytes.append(UInt8(ascii: "\""))
        bytes.appendTimestamp(milliseconds: row.timestamp.physicalMilliseconds)
        bytes.append(UInt8(ascii: "\""))
        try row.withUTF8(.transferID) { try field("transfer_id", utf8: $0) }
        field("type", row.kind.rawValue)
        try row.withUTF8(.actor) { try field("user", utf8: $0) }
        try row.withUTF8(.warehouse) { try field("warehouse", utf8: $0) }
        endObject()
    }
}
