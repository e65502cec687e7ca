import NIOCore

/// Rows as tab-separated text in the form PostgreSQL's `COPY` reads and writes (its "text" format): fields
/// separated by a tab, each row ended by a newline, `\N` for a null, and a backslash before a backslash, tab,
/// newline or carriage return in a text (written `\\`, `\t`, `\n`, `\r`).
///
/// The change feed answers in it for bulk readers (`GET /v1/changes?format=tsv`), and the PostgreSQL mirror hands
/// those rows to `COPY` as they came, with no field parsed or written again (docs/benchmarks.md, `export`).
///
/// Written field by field (``field(_:)-(String?)`` then ``endRow()``), with no array per row: a catch-up writes a
/// million rows.
public struct TabSeparatedText: Sendable {
    // Bytes in an array, handed to NIO once per page: each small `ByteBuffer` write paid for a capacity check and
    // an exclusivity check on its storage.
    private var bytes: [UInt8]
    /// Rows ended so far.
    public private(set) var count = 0
    private var fieldsInRow = 0

    public init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(max(capacity, 64))
    }

    /// The rows written so far.
    public var buffer: ByteBuffer { ByteBuffer(bytes: bytes) }

    /// A row of `fields`.
    public mutating func row(_ fields: [String?]) {
        for field in fields { self.field(field) }
        endRow()
    }

    public mutating func field(_ value: UInt64) {
        separate()
        bytes.appendDecimal(value)
    }

    public mutating func field(_ value: Int64?) {
        separate()
        guard let value else { return writeNull() }
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        bytes.appendDecimal(value.magnitude)
    }

    public mutating func field(_ value: String?) {
        separate()
        guard var value else { return writeNull() }
        value.withUTF8 { writeText(UnsafeRawBufferPointer($0)) }
    }

    /// A text given as its UTF-8 bytes (`nil`: a null).
    /// - Throws: ``InvalidUTF8`` when the bytes are not UTF-8.
    mutating func field(utf8 value: UnsafeRawBufferPointer?) throws(InvalidUTF8) {
        separate()
        guard let value else { return writeNull() }
        // ASCII, almost every text, needs no further check.
        if !value.allSatisfy({ $0 < 0x80 }), String(validating: value, as: UTF8.self) == nil { throw InvalidUTF8() }
        writeText(value)
    }

    /// A time as ``API/timestamp(milliseconds:)`` writes it.
    mutating func timestampField(milliseconds: UInt64) {
        separate()
        bytes.appendTimestamp(milliseconds: milliseconds)
    }

    public mutating func endRow() {
        bytes.append(UInt8(ascii: "\n"))
        fieldsInRow = 0
        count += 1
    }

    public struct InvalidUTF8: Error {}

    private mutating func writeNull() {
        bytes.append(UInt8(ascii: "\\"))
        bytes.append(UInt8(ascii: "N"))
    }

    private mutating func writeText(_ utf8: UnsafeRawBufferPointer) {
        // Almost every text needs no escape: then it is copied whole, not byte by byte.
        guard utf8.contains(where: Self.needsEscape) else { return bytes.append(contentsOf: utf8) }
        for byte in utf8 {
            guard Self.needsEscape(byte) else {
                bytes.append(byte)
                continue
            }
            bytes.append(UInt8(ascii: "\\"))
            switch byte {
            case UInt8(ascii: "\t"): bytes.append(UInt8(ascii: "t"))
            case UInt8(ascii: "\n"): bytes.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\r"): bytes.append(UInt8(ascii: "r"))
            default: bytes.append(byte)
            }
        }
    }

    static func needsEscape(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\\") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
    }

    private mutating func separate() {
        if fieldsInRow > 0 { bytes.append(UInt8(ascii: "\t")) }
        fieldsInRow += 1
    }
}

extension TabSeparatedText {
    /// One row of tab-separated text as read: its fields found on demand, unescaped only when asked for.
    ///
    /// Fields are read as ``TabSeparatedText`` writes them; a backslash before any other character stands for that
    /// character, as `COPY` reads it (`COPY`'s octal and hexadecimal escapes are not written by this product and
    /// not read here).
    public struct Row {
        /// The row's bytes, without its newline.
        public let bytes: UnsafeRawBufferPointer

        /// How many fields the row has.
        public var fieldCount: Int { bytes.reduce(1) { $0 + ($1 == UInt8(ascii: "\t") ? 1 : 0) } }

        /// The field at `index` (from 0), unescaped; `nil` for a null or when the row has fewer fields.
        public func text(at index: Int) -> String? {
            guard let range = range(of: index) else { return nil }
            let field = UnsafeRawBufferPointer(rebasing: bytes[range])
            if field.count == 2, field[0] == UInt8(ascii: "\\"), field[1] == UInt8(ascii: "N") { return nil }
            guard field.contains(UInt8(ascii: "\\")) else { return String(decoding: field, as: UTF8.self) }
            var unescaped: [UInt8] = []
            unescaped.reserveCapacity(field.count)
            var escaping = false
            for byte in field {
                if escaping {
                    switch byte {
                    case UInt8(ascii: "t"): unescaped.append(UInt8(ascii: "\t"))
                    case UInt8(ascii: "n"): unescaped.append(UInt8(ascii: "\n"))
                    case UInt8(ascii: "r"): unescaped.append(UInt8(ascii: "\r"))
                    default: unescaped.append(byte)
                    }
                    escaping = false
                } else if byte == UInt8(ascii: "\\") {
                    escaping = true
                } else {
                    unescaped.append(byte)
                }
            }
            return String(decoding: unescaped, as: UTF8.self)
        }

        private func range(of index: Int) -> Range<Int>? {
            var start = 0
            var field = 0
            while field < index {
                guard let tab = bytes[start...].firstIndex(of: UInt8(ascii: "\t")) else { return nil }
                start = tab + 1
                field += 1
            }
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\t")) ?? bytes.count
            return start..<end
        }
    }

    /// Calls `body` with each row of `text` (every row ends with a newline; a last row without one is given too).
    public static func forEachRow(in text: UnsafeRawBufferPointer, _ body: (Row) throws -> Void) rethrows {
        var start = 0
        while start < text.count {
            let end = text[start...].firstIndex(of: UInt8(ascii: "\n")) ?? text.count
            try body(Row(bytes: UnsafeRawBufferPointer(rebasing: text[start..<end])))
            start = end + 1
        }
    }
}
