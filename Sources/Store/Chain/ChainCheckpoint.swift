import CRDT
import Foundation
// swift-crypto 3.12 does not yet mark its keys Sendable; they are immutable.
@preconcurrency import Crypto

/// One statement, signed with the cluster CA key, of where every origin's chain stood: it covers ledgers written
/// before operations were signed, and the operations of warehouses retired or not yet upgraded since.
///
/// Per origin it lists marks `(sequence, hash)`: the hash after every ``markInterval``-th operation and after the
/// last one it covers (the version vector's entry). A page of those operations is cut at a mark and names it as its
/// head, so a catch-up of a large legacy ledger still moves in bounded pages; the checkpoint itself travels only in
/// pages that use one of its marks, and is checked once per page.
///
/// Encoding, version 1 (what the CA signs is every byte before the signature, after a domain tag):
/// ```
/// u8 version (1)   varint origin count, per origin: text origin, varint mark count, per mark: varint sequence,
/// 32 bytes hash   |   varint signature length, signature (ECDSA P-256, raw r ‖ s)
/// ```
public struct ChainCheckpoint: Hashable, Codable, Sendable {
    public static let version: UInt8 = 1
    public static let markInterval: UInt64 = 10_000
    /// The most marks a checkpoint may hold (a decoder refuses more): 2^20, a ledger of ten billion operations.
    public static let maxMarks = 1 << 20

    public struct Mark: Hashable, Codable, Sendable {
        public var sequence: UInt64
        public var hash: ChainHash
        public init(sequence: UInt64, hash: ChainHash) {
            self.sequence = sequence
            self.hash = hash
        }
    }

    /// Per origin, marks in increasing sequence order.
    public var marks: [ReplicaID: [Mark]]
    public var signature: [UInt8]

    public init(marks: [ReplicaID: [Mark]], signature: [UInt8]) {
        self.marks = marks
        self.signature = signature
    }

    /// The signed bytes: a domain tag, then the encoding without its signature.
    static func message(marks: [ReplicaID: [Mark]]) -> [UInt8] {
        var writer = ByteWriter(format: version)
        writeMarks(marks, into: &writer)
        return Array("inv checkpoint v1".utf8) + [0] + writer.bytes
    }

    private static func writeMarks(_ marks: [ReplicaID: [Mark]], into writer: inout ByteWriter) {
        writer.varint(UInt64(marks.count))
        for (origin, list) in marks.sorted(by: { $0.key < $1.key }) {
            writer.text(origin.rawValue)
            writer.varint(UInt64(list.count))
            for mark in list {
                writer.varint(mark.sequence)
                writer.append(mark.hash.bytes)
            }
        }
    }

    /// Signs marks with the cluster CA key.
    public static func signed(marks: [ReplicaID: [Mark]], caKey: P256.Signing.PrivateKey) throws -> ChainCheckpoint {
        let signature = try caKey.signature(for: message(marks: marks))
        return ChainCheckpoint(marks: marks, signature: Array(signature.rawRepresentation))
    }

    /// Whether the cluster CA key `caKey` signed this checkpoint.
    public func isSigned(by caKey: P256.Signing.PublicKey) -> Bool {
        guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
        return caKey.isValidSignature(signature, for: Self.message(marks: marks))
    }

    /// The mark of `origin` at `sequence`, if the checkpoint has one.
    public func mark(of origin: ReplicaID, at sequence: UInt64) -> Mark? {
        guard let list = marks[origin] else { return nil }
        var low = 0
        var high = list.count
        while low < high {
            let middle = (low + high) / 2
            if list[middle].sequence < sequence { low = middle + 1 } else { high = middle }
        }
        return low < list.count && list[low].sequence == sequence ? list[low] : nil
    }

    public func encoded() -> [UInt8] {
        var writer = ByteWriter(format: Self.version)
        Self.writeMarks(marks, into: &writer)
        writer.blob(signature)
        return writer.bytes
    }

    /// Decodes a checkpoint; a hostile peer may have written it, so every count is bounded by the bytes present.
    public init(decoding bytes: [UInt8]) throws(StoreError) {
        guard bytes.first == Self.version else { throw .invalidOperation("unsupported checkpoint version \(bytes.first ?? 0)") }
        var reader = ByteReader(bytes, offset: 1)
        let origins = try reader.count(limit: bytes.count)
        var marks: [ReplicaID: [Mark]] = [:]
        var total = 0
        for _ in 0..<origins {
            guard let text = UTF8Text.validated(try reader.blob()), let origin = try? ReplicaID(text), marks[origin] == nil else {
                throw .invalidOperation("bad origin in checkpoint")
            }
            let count = try reader.count(limit: bytes.count / 33)
            total += count
            guard total <= Self.maxMarks else { throw .invalidOperation("checkpoint holds more than \(Self.maxMarks) marks") }
            var list: [Mark] = []
            list.reserveCapacity(count)
            for _ in 0..<count {
                let sequence = try reader.varint()
                guard sequence >= 1, sequence <= LedgerOperation.maxSequence, sequence > (list.last?.sequence ?? 0) else {
                    throw .invalidOperation("checkpoint marks of \(origin) out of order or out of range")
                }
                guard let hash = ChainHash(bytes: try reader.fixed(ChainHash.size)) else { throw .invalidOperation("bad checkpoint hash") }
                list.append(Mark(sequence: sequence, hash: hash))
            }
            marks[origin] = list
        }
        let signature = Array(try reader.blob())
        guard reader.isAtEnd else { throw .invalidOperation("trailing bytes after checkpoint") }
        self.init(marks: marks, signature: signature)
    }
}
