import CRDT
import CompressNIO
import Foundation
import NIOCore
import Store

/// The wire form of a page of ledger operations, as peers exchange them: a ``LedgerOperationCodec`` batch
/// (string table, varints, deltas, 16-byte UUIDs; see there for the layout), deflated.
///
/// The same codec carries merges over the node's write queue, so a page is decoded once and never re-encoded as
/// JSON on its way to the writer. A reader refuses another version, a truncated or corrupted page, or a page that
/// inflates beyond ``maxInflatedBytes``.
public enum OperationPage {
    public static var version: UInt8 { LedgerOperationCodec.version }
    /// The most bytes a page may inflate to (bounded memory on the receiving side).
    public static let maxInflatedBytes = 64 << 20

    public enum Failure: Error, CustomStringConvertible {
        case unsupportedVersion(UInt8)
        case malformed(String)

        public var description: String {
            switch self {
            case .unsupportedVersion(let version): "unsupported operation page version \(version)"
            case .malformed(let why): "malformed operation page: \(why)"
            }
        }
    }

    /// Encodes and compresses operations.
    public static func encode(_ operations: [LedgerOperation]) throws -> ByteBuffer {
        var raw = ByteBuffer(bytes: try LedgerOperationCodec.encode(operations))
        return try raw.compress(with: .deflate())
    }

    /// Inflates and decodes a page.
    public static func decode(_ compressed: ByteBuffer) throws -> [LedgerOperation] {
        try decodeKeepingBytes(compressed).operations
    }

    /// Inflates and decodes a page, also returning the inflated ``LedgerOperationCodec`` bytes, which the writer
    /// takes as they are (``NodeStore/submitMerge(encoded:)``).
    public static func decodeKeepingBytes(_ compressed: ByteBuffer) throws -> (operations: [LedgerOperation], encoded: [UInt8]) {
        var input = compressed
        let page: ByteBuffer
        do { page = try input.decompress(with: .deflate(), maxSize: maxInflatedBytes) } catch {
            throw Failure.malformed("cannot inflate: \(error)")
        }
        let bytes = Array(page.readableBytesView)
        guard let first = bytes.first else { throw Failure.malformed("empty") }
        guard first == LedgerOperationCodec.version else { throw Failure.unsupportedVersion(first) }
        do { return (try LedgerOperationCodec.decode(bytes), bytes) } catch { throw Failure.malformed(error.description) }
    }
}
