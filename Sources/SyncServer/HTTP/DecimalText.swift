extension Array where Element == UInt8 {
    /// Appends `value` in decimal, as `String(value)` writes it, without the string: the hand-written writers of
    /// the change feed's JSON and of the mirror's COPY text write a number per field.
    public mutating func appendDecimal(_ value: UInt64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for the 20 digits of UInt64.max
        Swift.withUnsafeMutableBytes(of: &digits) { buffer in
            var position = buffer.count
            var rest = value
            repeat {
                position -= 1
                buffer[position] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            append(contentsOf: buffer[position...])
        }
    }

    /// Appends ``API/timestamp(milliseconds:)``'s text, without the string.
    mutating func appendTimestamp(milliseconds: UInt64) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { text in
            let count = API.writeTimestamp(milliseconds: milliseconds, into: text)
            append(contentsOf: UnsafeBufferPointer(rebasing: text[..<count]))
        }
    }
}
