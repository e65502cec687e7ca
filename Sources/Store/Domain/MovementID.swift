import Crypto
import Foundation

/// Movement ids: lowercase UUID strings. Clients may supply one to make a retry idempotent.
public enum MovementID {
    /// A fresh id: a version-7 UUID (RFC 9562), 48 bits of Unix milliseconds then 74 random bits. Never called
    /// inside the writer or a CRDT: ids are chosen where the request is made.
    ///
    /// Time-ordered ids land at the right edge of the ledger's movement-id index instead of on a random page, so a
    /// group commit dirties (and writes to the WAL) one index page rather than one per movement.
    public static func generate(
        milliseconds: UInt64 = UInt64(Date().timeIntervalSince1970 * 1_000),
        using generator: inout some RandomNumberGenerator
    ) -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 { bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (8 * (5 - UInt64(index)))) }
        let random = (generator.next() as UInt64, generator.next() as UInt64)
        for index in 6..<16 {
            let word = index < 11 ? random.0 : random.1
            bytes[index] = UInt8(truncatingIfNeeded: word >> (8 * UInt64(index % 8)))
        }
        bytes[6] = 0x70 | (bytes[6] & 0x0F)  // version 7
        bytes[8] = 0x80 | (bytes[8] & 0x3F)  // RFC 9562 variant
        return CanonicalUUIDText.text(bytes)
    }

    /// A fresh version-7 id from the system's clock and random source.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return generate(using: &generator)
    }

    /// Canonicalises a client-supplied UUID (any case) to lowercase, or returns `nil` when it is not a UUID.
    public static func canonical(_ raw: String) -> String? {
        guard let uuid = UUID(uuidString: raw) else { return nil }
        return uuid.uuidString.lowercased()
    }

    /// The movement id of line `sku` of a request on several transfer lines whose id is `id`: a name-based UUID
    /// (RFC 9562 version 8 over SHA-256 of both), so that a retried request finds the movements it recorded.
    public static func line(of id: String, sku: SKU) -> String {
        var bytes = Array(SHA256.hash(data: Array("inv transfer line\u{0}\(id)\u{0}\(sku.rawValue)".utf8)).prefix(16))
        bytes[6] = 0x80 | (bytes[6] & 0x0F)  // version 8
        bytes[8] = 0x80 | (bytes[8] & 0x3F)  // RFC 9562 variant
        return CanonicalUUIDText.text(bytes)
    }

    /// Whether `raw` is already canonical: 8-4-4-4-12 lowercase hexadecimal digits (what ``canonical(_:)`` gives).
    /// The writer asks for every movement, so this does not parse through Foundation's `UUID`.
    public static func isValid(_ raw: String) -> Bool { CanonicalUUIDText.words(raw) != nil }
}
