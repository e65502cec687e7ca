/// A byte source that reads the varints and zigzag integers ``ByteWriter`` writes (LEB128, 7 bits per byte, low
/// groups first). Shared by the readers of write-queue messages (``ByteReader``, over an array) and of ledger row
/// bodies (``RawByteReader``, in place).
protocol VarintReading {
    mutating func byte() throws(StoreError) -> UInt8
    /// The error for a varint of more than 64 bits.
    static var varintTooLong: StoreError { get }
}

extension VarintReading {
    mutating func varint() throws(StoreError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let next = try byte()
            guard shift < 64 else { throw Self.varintTooLong }
            result |= UInt64(next & 0x7F) << shift
            if next & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func zigzag() throws(StoreError) -> Int64 {
        let raw = try varint()
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }
}
