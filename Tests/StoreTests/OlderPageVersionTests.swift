import CRDT
import Foundation
import Testing
@testable import Store

/// Pages in the layouts of versions 2, 3 and 4, written by nodes from before pages carried row bodies as stored:
/// a node still reads them during a rolling upgrade, field for field.
///
/// The bytes were written by the version-2 to version-4 encoder for ``OlderPageVersionTests/operations``; the
/// test that decodes them is the contract that an upgraded node still takes an older node's pages.
@Suite("Pages of versions 2 to 4, from older nodes")
struct OlderPageVersionTests {
    static func rid(_ text: String) -> ReplicaID { try! ReplicaID(text) }
    static func sku(_ text: String) -> SKU { try! SKU(text) }

    /// Operations needing encoding `version` (``LedgerOperation/encodingVersion``: 1, 2 or 3).
    static func operations(needing version: UInt8) -> [LedgerOperation] {
        let mad = rid("MAD"), sev = rid("SEV")
        let time = HLCTimestamp(physicalMilliseconds: 1_764_000_000_000, logical: 0)
        var ops = [
            LedgerOperation(
                origin: mad, sequence: 1, timestamp: time, kind: .productCreate, sku: sku("SKU-1"),
                product: ProductPatch(name: "Tea", price: .some("2.50"), reorderPoint: .some(4), barcodes: ["4006381333931"]),
                actor: "admin", context: VersionVector([sev: 2])),
            LedgerOperation(
                origin: mad, sequence: 2, timestamp: HLCTimestamp(rawValue: time.rawValue + 7), kind: .receive, sku: sku("SKU-1"),
                movementID: "6f1c8f0e-2a4b-4c7d-9e1f-0a1b2c3d4e5f", warehouse: mad, delta: 10,
                counter: PNCounter.Entry(increments: 10), actor: "ana", reason: "delivery", reference: "PO-7"),
            LedgerOperation(
                origin: mad, sequence: 3, timestamp: HLCTimestamp(rawValue: time.rawValue + 9), kind: .transfer, sku: sku("SKU-1"),
                movementID: "not-a-uuid", warehouse: mad, delta: -3, counter: PNCounter.Entry(increments: 10, decrements: 3),
                transfer: TransferDelta(id: "7a1c8f0e-2a4b-4c7d-9e1f-0a1b2c3d4e5f", from: mad, to: sev, shipped: 3), actor: "ana"),
            LedgerOperation(
                origin: sev, sequence: 1, timestamp: HLCTimestamp(rawValue: time.rawValue + 20), kind: .reorderOverride,
                sku: sku("SKU-1"), warehouse: sev, product: ProductPatch(reorderPoint: .some(nil)), actor: "bo"),
        ]
        if version >= 2 {
            ops.append(LedgerOperation(
                origin: sev, sequence: 2, timestamp: HLCTimestamp(rawValue: time.rawValue + 30), kind: .transferReturn,
                sku: sku("SKU-1"), movementID: "8b1c8f0e-2a4b-4c7d-9e1f-0a1b2c3d4e5f", warehouse: sev, delta: 0,
                transfer: TransferDelta(id: "7a1c8f0e-2a4b-4c7d-9e1f-0a1b2c3d4e5f", from: mad, to: sev, returned: 1),
                actor: "bo", reason: "damaged",
                transferBack: TransferDelta(id: "back-1", from: sev, to: mad, shipped: 1, isLine: true)))
        }
        if version >= 3 {
            ops.append(LedgerOperation(
                origin: mad, sequence: 4, timestamp: HLCTimestamp(rawValue: time.rawValue + 40), kind: .transfer, sku: sku("SKU-1"),
                movementID: "9c1c8f0e-2a4b-4c7d-9e1f-0a1b2c3d4e5f", warehouse: mad, delta: -2,
                counter: PNCounter.Entry(increments: 10, decrements: 5),
                transfer: TransferDelta(id: "doc-42", from: mad, to: sev, shipped: 2, isLine: true), actor: "ana",
                document: "doc-42"))
        }
        return ops
    }

    /// The pages as the encoder of versions 2 to 4 wrote them, in hexadecimal.
    static let pages: [(version: UInt8, needing: UInt8, hex: String)] = [
        (2, 1, """
            0209034d414405534b552d310561646d696e03616e610864656c697665727904504f2d370a6e6f742d612d7575696403
            53455602626f04000280808080fda5db9a03000120004b7b22626172636f646573223a5b223430303633383133333339
            3331225d2c2272656f72646572506f696e74223a342c226e616d65223a22546561222c227072696365223a22322e3530
            227d097b22534556223a327d0200020e0301cf6f1c8f0e2a4b4c7d9e1f0a1b2c3d4e5f00140a0003040500020406011d
            0600050a03017a1c8f0e2a4b4c7d9e1f0a1b2c3d4e5f00070400030702160801240700157b2272656f72646572506f69
            6e74223a6e756c6c7d00080000
            """),
        (3, 2, """
            030b034d414405534b552d310561646d696e03616e610864656c697665727904504f2d370a6e6f742d612d7575696403
            53455602626f066261636b2d310764616d6167656405000280808080fda5db9a0300012000004b7b226e616d65223a22
            546561222c22626172636f646573223a5b2234303036333831333333393331225d2c227072696365223a22322e353022
            2c2272656f72646572506f696e74223a347d097b22534556223a327d0200020e0301cf6f1c8f0e2a4b4c7d9e1f0a1b2c
            3d4e5f00140a000003040500020406011d0600050a03017a1c8f0e2a4b4c7d9e1f0a1b2c3d4e5f000704000000000307
            0216080124070000157b2272656f72646572506f696e74223a6e756c6c7d00080702140901578b1c8f0e2a4b4c7d9e1f
            0a1b2c3d4e5f0700017a1c8f0e2a4b4c7d9e1f0a1b2c3d4e5f000700000200010009070002000001080a0000
            """),
        (4, 3, """
            040c034d414405534b552d310561646d696e03616e610864656c697665727904504f2d370a6e6f742d612d7575696403
            53455602626f066261636b2d310764616d6167656406646f632d343206000280808080fda5db9a030001200000004b7b
            22626172636f646573223a5b2234303036333831333333393331225d2c2272656f72646572506f696e74223a342c226e
            616d65223a22546561222c227072696365223a22322e3530227d097b22534556223a327d0200020e0301cf6f1c8f0e2a
            4b4c7d9e1f0a1b2c3d4e5f00140a00000003040500020406011d0600050a03017a1c8f0e2a4b4c7d9e1f0a1b2c3d4e5f
            00070400000000000307021608012407000000157b2272656f72646572506f696e74223a6e756c6c7d00080702140901
            578b1c8f0e2a4b4c7d9e1f0a1b2c3d4e5f0700017a1c8f0e2a4b4c7d9e1f0a1b2c3d4e5f000700000200010009070002
            00000100080a00021406011f9c1c8f0e2a4b4c7d9e1f0a1b2c3d4e5f00030a05000b00070300000100020b030000
            """),
    ]

    @Test("a page of version 2, 3 or 4 decodes to the operations it was written from", arguments: [0, 1, 2])
    func olderPagesDecode(index: Int) throws {
        let fixture = Self.pages[index]
        let hex = fixture.hex.filter { !$0.isWhitespace }
        let bytes = stride(from: 0, to: hex.count, by: 2).map { offset in
            UInt8(hex.dropFirst(offset).prefix(2), radix: 16)!
        }
        #expect(bytes.first == fixture.version)
        #expect(LedgerOperationCodec.reads(fixture.version))
        #expect(try LedgerOperationCodec.decode(bytes) == Self.operations(needing: fixture.needing))
        // Every truncation is refused, never misread.
        for length in 0..<bytes.count {
            #expect(throws: StoreError.self) { try LedgerOperationCodec.decode(Array(bytes.prefix(length))) }
        }
    }
}
