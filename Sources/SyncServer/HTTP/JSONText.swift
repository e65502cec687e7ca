import NIOCore

/// A minimal JSON writer for the hottest answers (`POST /v1/movements`), where `JSONEncoder` was a measurable
/// share of each request. It writes exactly what `JSONEncoder` with `.sortedKeys` writes for the same value —
/// same escaping (including `\/`), `null` for absent values, no spaces — so clients see one format whichever
/// path answered; a test compares the two byte for byte.
///
/// Keys must be written in sorted order by the caller.
struct JSONText {
    private(set) var buffer: ByteBuffer
    private var needsComma = false

    init(capacity: Int = 512) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
        buffer.writeInteger(UInt8(ascii: "{"))
    }

    mutating func key(_ name: StaticString) {
        if needsComma { buffer.writeInteger(UInt8(ascii: ",")) }
        needsComma = true
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeStaticString(name)
        buffer.writeStaticString("\":")
    }

    mutating func field(_ name: StaticString, _ value: String?) {
        key(name)
        guard let value else {
            buffer.writeStaticString("null")
            return
        }
        writeString(value)
    }

    mutating func field(_ name: StaticString, _ value: Int64?) {
        key(name)
        guard let value else {
            buffer.writeStaticString("null")
            return
        }
        buffer.writeString(String(value))
    }

    mutating func field(_ name: StaticString, _ value: UInt64) {
        key(name)
        buffer.writeString(String(value))
    }

    mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        if value { buffer.writeStaticString("true") } else { buffer.writeStaticString("false") }
    }

    /// Opens an array as the value of `name`.
    mutating func beginArray(_ name: StaticString) {
        key(name)
        buffer.writeInteger(UInt8(ascii: "["))
        needsComma = false
    }

    /// Opens an object as the next element of the array being written.
    mutating func beginObjectElement() {
        if needsComma { buffer.writeInteger(UInt8(ascii: ",")) }
        buffer.writeInteger(UInt8(ascii: "{"))
        needsComma = false
    }

    /// A string as the next element of the array being written.
    mutating func stringElement(_ value: String) {
        if needsComma { buffer.writeInteger(UInt8(ascii: ",")) }
        writeString(value)
        needsComma = true
    }

    /// Closes the object opened by ``beginObjectElement()``.
    mutating func endObject() {
        buffer.writeInteger(UInt8(ascii: "}"))
        needsComma = true
    }

    /// Closes the array opened by ``beginArray(_:)``.
    mutating func endArray() {
        buffer.writeInteger(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Closes the object and returns its bytes.
    mutating func finish() -> ByteBuffer {
        buffer.writeInteger(UInt8(ascii: "}"))
        return buffer
    }

    private static let hex = Array("0123456789abcdef".utf8)

    private mutating func writeString(_ value: String) {
        buffer.writeInteger(UInt8(ascii: "\""))
        // Almost every text needs no escape: then it is copied whole, not byte by byte.
        if !value.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "/") }) {
            buffer.writeString(value)
            buffer.writeInteger(UInt8(ascii: "\""))
            return
        }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case UInt8(ascii: "/"): buffer.writeStaticString("\\/")
            case 0x08: buffer.writeStaticString("\\b")
            case 0x0C: buffer.writeStaticString("\\f")
            case 0x0A: buffer.writeStaticString("\\n")
            case 0x0D: buffer.writeStaticString("\\r")
            case 0x09: buffer.writeStaticString("\\t")
            case 0..<0x20:
                buffer.writeStaticString("\\u00")
                buffer.writeInteger(Self.hex[Int(byte >> 4)])
                buffer.writeInteger(Self.hex[Int(byte & 0x0F)])
            default: buffer.writeInteger(byte)
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}

extension API.Movement {
    /// This movement as `JSONEncoder` with `.sortedKeys` writes it, without `JSONEncoder`.
    func sortedJSON() -> ByteBuffer {
        var json = JSONText()
        writeSortedFields(into: &json)
        return json.finish()
    }

    /// Writes the movement's fields in sorted key order, with `hlc` among them when given (a change-feed entry).
    func writeSortedFields(into json: inout JSONText, hlc: String? = nil) {
        json.field("counterpart", counterpart)
        json.field("delta", delta)
        json.field("document", document)
        if let hlc { json.field("hlc", hlc) }
        json.field("id", id)
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

extension API.ChangesPage {
    /// This page as `JSONEncoder` with `.sortedKeys` writes it, without `JSONEncoder` (which cost the node about
    /// three quarters of its CPU serving a catch-up of the PostgreSQL mirror).
    func sortedJSON() -> ByteBuffer {
        var json = JSONText(capacity: 128 + changes.count * 320)
        json.beginArray("changes")
        for change in changes {
            json.beginObjectElement()
            change.movement.writeSortedFields(into: &json, hlc: change.hlc)
            json.endObject()
        }
        json.endArray()
        json.field("more", more)
        json.field("next", next)
        json.beginArray("waiting_for")
        for origin in waitingFor { json.stringElement(origin) }
        json.endArray()
        return json.finish()
    }
}
