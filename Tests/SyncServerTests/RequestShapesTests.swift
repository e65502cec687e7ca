import Foundation
import Store
import SyncServer
import Testing

/// The request bodies the CLI sends are the `API` types the routes decode; these are their keys and values as the
/// CLI's `JSONEncoder` writes them (absent optionals left out, `null` only where it clears), sorted here because the
/// encoder's own key order is not part of the format.
@Suite struct RequestShapesTests {
    func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    @Test func movementsAndTransferLines() throws {
        #expect(try json(API.MovementBody(type: .sell, sku: "TEA-1", quantity: 3)) == #"{"quantity":3,"sku":"TEA-1","type":"sell"}"#)
        #expect(
            try json(API.MovementBody(type: .transfer, sku: "TEA-1", quantity: 2, to: "hq", reason: "r", reference: "PO-1", id: "x"))
                == #"{"id":"x","quantity":2,"reason":"r","reference":"PO-1","sku":"TEA-1","to":"hq","type":"transfer"}"#)
        #expect(try json(API.TransferLinesBody()) == "{}")
        #expect(try json(API.TransferLinesBody(sku: "TEA-1", reason: "damaged")) == #"{"reason":"damaged","sku":"TEA-1"}"#)
    }

    @Test func documents() throws {
        let body = API.DocumentBody(type: .count, lines: [.init(sku: "TEA-1", quantity: 4)], startedAt: "2026-01-31T12:00:00.000Z")
        #expect(try json(body) == #"{"lines":[{"quantity":4,"sku":"TEA-1"}],"started_at":"2026-01-31T12:00:00.000Z","type":"count"}"#)
    }

    @Test func productsAndImports() throws {
        #expect(
            try json(API.ProductBody(sku: "TEA-1", name: "Tea", price: "4.50", reorderPoint: 5))
                == #"{"name":"Tea","price":"4.50","reorder_point":5,"sku":"TEA-1"}"#)
        #expect(
            try json(API.ImportBody(products: [API.ProductBody(sku: "TEA-1", name: "Tea", description: "", barcodes: [])]))
                == #"{"products":[{"barcodes":[],"description":"","name":"Tea","sku":"TEA-1"}]}"#)
        #expect(try json(API.ProductUpdate(name: "Tea")) == #"{"name":"Tea"}"#)
        #expect(try json(API.ProductUpdate(price: .some(nil), reorderPoint: .some(nil))) == #"{"price":null,"reorder_point":null}"#)
        #expect(try json(API.ProductUpdate(reorderPoint: 7, barcodes: [])) == #"{"barcodes":[],"reorder_point":7}"#)
        #expect(try json(API.ReorderPointBody(reorderPoint: nil)) == #"{"reorder_point":null}"#)
        #expect(try json(API.ReorderPointBody(reorderPoint: 3)) == #"{"reorder_point":3}"#)
    }

    /// An absent key leaves a field alone; `null` clears it: the update tells them apart both ways.
    @Test func productUpdateRoundTripsAbsentAndNull() throws {
        for update in [API.ProductUpdate(), API.ProductUpdate(price: .some(nil)), API.ProductUpdate(price: "1.00", reorderPoint: .some(nil))] {
            let decoded = try JSONDecoder().decode(API.ProductUpdate.self, from: try JSONEncoder().encode(update))
            #expect(decoded.price == update.price)
            #expect(decoded.reorderPoint == update.reorderPoint)
        }
    }

    @Test func clusterAndTokens() throws {
        #expect(try json(API.PeerBody(url: "https://b:7443")) == #"{"url":"https:\/\/b:7443"}"#)
        #expect(try json(API.SyncPaused(paused: true)) == #"{"paused":true}"#)
        #expect(try json(API.TokenBody(role: .staff)) == #"{"role":"staff"}"#)
        #expect(try json(API.RotationBody(graceSeconds: nil)) == "{}")
        #expect(try json(API.RotationBody(graceSeconds: 60)) == #"{"grace_seconds":60}"#)
    }
}
