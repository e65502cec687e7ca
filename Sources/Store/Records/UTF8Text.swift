import Foundation

/// Strings made from bytes that must be valid UTF-8.
///
/// Not the standard library's `String(validating:as:)`: that generic is not specialised for byte buffers, and on
/// the sync path it resolved type metadata for every text of every operation (about 7 % of a merging node's
/// writer in `inv-bench sync`). `String(decoding:as:)` over a buffer has a specialised fast path but repairs
/// instead of refusing, so a text is accepted only when its bytes come back unchanged.
enum UTF8Text {
    /// The string `bytes` spell if they are valid UTF-8, else `nil`.
    static func validated(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard !bytes.isEmpty else { return "" }
        var text = String(decoding: bytes.assumingMemoryBound(to: UInt8.self), as: UTF8.self)
        // A repair replaces an invalid sequence with U+FFFD: the bytes differ, often in length too.
        let unchanged = text.withUTF8 { utf8 in
            utf8.count == bytes.count && memcmp(utf8.baseAddress!, bytes.baseAddress!, bytes.count) == 0
        }
        return unchanged ? text : nil
    }

    static func validated(_ bytes: ArraySlice<UInt8>) -> String? {
        bytes.withUnsafeBytes { validated($0) }
    }
}
