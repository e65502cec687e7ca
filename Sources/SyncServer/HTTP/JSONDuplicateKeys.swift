/// Finds a key written twice in one JSON object, so that a request body has one meaning only.
///
/// Why: parsers disagree on `{"quantity":1000000,"quantity":1}`. Foundation's `JSONDecoder` takes the first value,
/// most others (and so a validating proxy or a client library in front of the node) the last: the node would act on
/// another request than the one that was checked. Such a body is refused (400) before it is decoded.
///
/// Keys are compared after their escapes are decoded (`"qu\u0061ntity"` is `quantity`), as Swift strings, as the
/// decoder compares them. The scan is one pass over the bytes with no recursion (a deep nesting cannot exhaust the
/// stack); it does not judge whether the JSON is well formed, which the decoder does next.
enum JSONDuplicateKeys {
    /// The first key found twice in one object of `bytes`, or `nil`.
    static func first(in bytes: [UInt8]) -> String? {
        // One entry per open container: the keys of an object so far (nil for an array), and whether a key is due.
        var containers: [(keys: Set<String>?, expectingKey: Bool)] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "{"):
                containers.append((keys: [], expectingKey: true))
                index += 1
            case UInt8(ascii: "["):
                containers.append((keys: nil, expectingKey: false))
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if !containers.isEmpty { containers.removeLast() }
                index += 1
            case UInt8(ascii: ","):
                if let last = containers.indices.last, containers[last].keys != nil { containers[last].expectingKey = true }
                index += 1
            case UInt8(ascii: "\""):
                guard let last = containers.indices.last, containers[last].expectingKey else {
                    index = end(ofStringIn: bytes, from: index + 1)
                    continue
                }
                let (key, end) = string(in: bytes, from: index + 1)
                index = end
                containers[last].expectingKey = false
                if containers[last].keys?.insert(key).inserted == false { return key }
            default:
                index += 1
            }
        }
        return nil
    }

    /// The index after the closing quote of the string starting after its opening quote at `start`.
    private static func end(ofStringIn bytes: [UInt8], from start: Int) -> Int {
        var index = start
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\""): return index + 1
            case UInt8(ascii: "\\"): index += 2
            default: index += 1
            }
        }
        return index
    }

    /// The decoded string starting after its opening quote at `start`, and the index after its closing quote.
    /// Malformed escapes are kept as written (the decoder refuses them anyway).
    private static func string(in bytes: [UInt8], from start: Int) -> (String, Int) {
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        var index = start
        func flush() {
            scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
            raw.removeAll(keepingCapacity: true)
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                break
            }
            guard byte == UInt8(ascii: "\\"), index + 1 < bytes.count else {
                raw.append(byte)
                index += 1
                continue
            }
            flush()
            let escape = bytes[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                guard var unit = hex4(bytes, at: index) else {
                    scalars.append("u")
                    continue
                }
                index += 4
                // A high surrogate followed by `\uDC00`-`\uDFFF` is one scalar.
                if (0xD800..<0xDC00).contains(unit), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                   bytes[index + 1] == UInt8(ascii: "u"), let low = hex4(bytes, at: index + 2), (0xDC00..<0xE000).contains(low) {
                    unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
                scalars.append(Unicode.Scalar(unit) ?? "\u{FFFD}")
            default: scalars.append(Unicode.Scalar(escape))
            }
        }
        flush()
        return (String(scalars), index)
    }

    private static func hex4(_ bytes: [UInt8], at index: Int) -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for byte in bytes[index..<index + 4] {
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            value = value << 4 | digit
        }
        return value
    }
}
