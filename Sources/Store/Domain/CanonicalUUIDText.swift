/// Conversions between a canonical UUID text (36 lowercase characters, `8-4-4-4-12`) and its 16 bytes.
///
/// Movement and transfer ids are stored as canonical text but travel as 16 bytes; these run once per operation on
/// the sync path, where Foundation's `UUID(uuidString:)`/`uuidString` (built on `sscanf`/`sprintf`) dominated.
/// Invariant: `text(bytes(t)!) == t` for every canonical `t`, and `bytes` refuses every other string, including
/// upper-case ones, so a round trip never changes an id.
enum CanonicalUUIDText {
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// The 16 bytes of `text` if it is a canonical lowercase UUID, else `nil`.
    static func bytes(_ text: String) -> [UInt8]? {
        guard let words = words(text) else { return nil }
        var result = [UInt8](repeating: 0, count: 16)
        withUnsafeBytes(of: words.high.bigEndian) { result.replaceSubrange(0..<8, with: $0) }
        withUnsafeBytes(of: words.low.bigEndian) { result.replaceSubrange(8..<16, with: $0) }
        return result
    }

    /// The 16 bytes of `text` as two big-endian words, if it is a canonical lowercase UUID: no allocation, for
    /// writers that append them in place.
    static func words(_ text: String) -> (high: UInt64, low: UInt64)? {
        var text = text
        return text.withUTF8 { utf8 -> (high: UInt64, low: UInt64)? in
            guard utf8.count == 36 else { return nil }
            var high: UInt64 = 0
            var low: UInt64 = 0
            var nibbles = 0
            for index in 0..<36 {
                if index == 8 || index == 13 || index == 18 || index == 23 {
                    guard utf8[index] == UInt8(ascii: "-") else { return nil }
                    continue
                }
                guard let value = nibble(utf8[index]) else { return nil }
                if nibbles < 16 { high = high << 4 | UInt64(value) } else { low = low << 4 | UInt64(value) }
                nibbles += 1
            }
            return (high, low)
        }
    }

    /// The canonical text of 16 bytes. `bytes.count` must be 16.
    static func text(_ bytes: some Collection<UInt8>) -> String {
        precondition(bytes.count == 16, "a UUID has 16 bytes")
        return String(unsafeUninitializedCapacity: 36) { buffer in
            var out = 0
            for (position, byte) in bytes.enumerated() {
                if position == 4 || position == 6 || position == 8 || position == 10 {
                    buffer[out] = UInt8(ascii: "-")
                    out += 1
                }
                buffer[out] = hexDigits[Int(byte >> 4)]
                buffer[out + 1] = hexDigits[Int(byte & 0x0F)]
                out += 2
            }
            return out
        }
    }

    /// Writes the canonical text of `bytes` (16 bytes) into `out` (36 bytes), with no string made.
    static func write(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        precondition(bytes.count == 16 && out.count >= 36, "a UUID has 16 bytes and 36 characters")
        var position = 0
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 {
                out[position] = UInt8(ascii: "-")
                position += 1
            }
            out[position] = hexDigits[Int(byte >> 4)]
            out[position + 1] = hexDigits[Int(byte & 0x0F)]
            position += 2
        }
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character &- UInt8(ascii: "a") &+ 10
        default: nil
        }
    }
}
