import CRDT
import Foundation

/// Where a reader of the change feed stands: per origin, the highest sequence it has been given.
///
/// A position in timestamp order (``HistoryCursor``) cannot resume an incremental reader: an operation that arrives
/// late from a warehouse that was offline sorts before the position and is never read. A version vector can: each
/// origin numbers its operations densely from 1, so "every operation of origin O with a sequence above the
/// cursor's entry for O" is exactly what the reader has not seen, whatever the timestamps and whenever the
/// operations arrive. The cursor names no node, so a reader may resume from any node of the cluster.
///
/// The token is opaque to readers: base64url (no padding) of
/// ```
/// u8      cursor version (1)
/// varint  origin count
/// per origin, in ascending order: varint length, UTF-8 replica id, varint sequence (> 0)
/// ```
/// Invariant: `ChangeCursor(token: c.token) == c`; a token of another version, truncated, with trailing bytes,
/// origins out of order or invalid, a zero or out-of-range sequence, or longer than ``maximumTokenLength`` is
/// refused, never guessed.
public struct ChangeCursor: Hashable, Sendable {
    public static let version: UInt8 = 1
    /// Long enough for thousands of warehouses; bounds the work a hostile token can cause.
    public static let maximumTokenLength = 65_536

    public private(set) var vector: VersionVector

    /// The beginning of the feed: nothing seen.
    public init(_ vector: VersionVector = VersionVector()) { self.vector = vector }

    /// Records that the reader has been given `sequence` of `origin` (and, the feed being dense, all before it).
    public mutating func advance(_ origin: ReplicaID, to sequence: UInt64) { vector.advance(origin, to: sequence) }

    public var token: String {
        var writer = ByteWriter(format: Self.version)
        let entries = vector.entries.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        writer.varint(UInt64(entries.count))
        for (origin, sequence) in entries {
            writer.text(origin.rawValue)
            writer.varint(sequence)
        }
        return Data(writer.bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Parses ``token``; `nil` for anything that is not a token this version wrote.
    public init?(token: String) {
        guard token.utf8.count <= Self.maximumTokenLength,
              token.utf8.allSatisfy({ $0 < 0x80 && (Self.alphabet.contains($0)) })
        else { return nil }
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        guard base64.utf8.count % 4 != 1 else { return nil }
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: base64) else { return nil }
        var reader = Reader(bytes: Array(data))
        guard let version = reader.byte(), version == Self.version, let count = reader.varint(),
              count <= UInt64(data.count)
        else { return nil }
        var vector = VersionVector()
        var previous: ReplicaID?
        for _ in 0..<count {
            guard let length = reader.varint(), let raw = reader.text(length: length),
                  let origin = try? ReplicaID(raw), previous.map({ $0 < origin }) ?? true,
                  let sequence = reader.varint(), sequence > 0, sequence <= UInt64(Int64.max)
            else { return nil }
            vector.advance(origin, to: sequence)
            previous = origin
        }
        guard reader.atEnd else { return nil }
        // Canonical form only: one token per cursor (no padding variants, no stray bits in the last character).
        let cursor = ChangeCursor(vector)
        guard cursor.token == token else { return nil }
        self = cursor
    }

    private static let alphabet = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8))

    private struct Reader {
        let bytes: [UInt8]
        var position = 0

        var atEnd: Bool { position == bytes.count }

        mutating func byte() -> UInt8? {
            guard position < bytes.count else { return nil }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func varint() -> UInt64? {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while let next = byte() {
                guard shift < 64 else { return nil }
                result |= UInt64(next & 0x7F) << shift
                if next & 0x80 == 0 { return result }
                shift += 7
            }
            return nil
        }

        mutating func text(length: UInt64) -> String? {
            guard length <= UInt64(bytes.count - position) else { return nil }
            let end = position + Int(length)
            defer { position = end }
            return UTF8Text.validated(bytes[position..<end])
        }
    }
}
