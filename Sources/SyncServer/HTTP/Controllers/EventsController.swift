import CRDT
import Foundation
import Hummingbird
import Store

/// `GET /v1/events`: Server-Sent Events carrying every committed movement, product change and alert, local or
/// merged, from the moment of subscription.
struct EventsController {
    let node: InvNode

    func addRoutes(to group: RouterGroup<InvRequestContext>) {
        group.get("events", use: stream)
    }

    @Sendable func stream(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.reporter)
        let subscription = node.events.subscribe(stock: true)
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            try await writer.write(ByteBuffer(string: ": connected to \(node.config.warehouse)\n\n"))
            for await delivery in subscription {
                var onHand: Int64?
                if case .event(.operation(let op), let reported) = delivery, op.kind.isMovement, let warehouse = op.warehouse {
                    // Reported by the writer, unless the transaction committed before this stream subscribed. A
                    // failed read sends the movement without `on_hand` rather than ending the stream.
                    onHand = reported ?? (try? node.store.reader.onHand(sku: op.sku.rawValue, warehouse: warehouse.rawValue))
                }
                try await writer.write(ByteBuffer(string: Self.frame(delivery, onHand: onHand)))
            }
            try await writer.finish(nil)
        })
    }

    /// One SSE frame: `event: <kind>` and one `data:` line of JSON.
    ///
    /// - Parameter onHand: for a movement, its warehouse's stock of the SKU (`on_hand`) as the transaction that
    ///   committed it left it: after the movement, and after the others the same group commit applied (a merged
    ///   page, or local writes committed together), but never after a later transaction's.
    static func frame(_ delivery: EventHub.Delivery, onHand: Int64? = nil) -> String {
        switch delivery {
        case .heartbeat: return ": heartbeat\n\n"
        case .lagged: return "event: lagged\ndata: {}\n\n"
        case .event(.operation(let op), _) where op.kind.isMovement && onHand != nil:
            let json = MovementEvent(movement: API.Movement(MovementRecord(op)), onHand: onHand).sortedJSON()
            return "event: movement\ndata: \(String(buffer: json))\n\n"
        case .event(let event, _):
            let (name, json) = encode(event)
            return "event: \(name)\ndata: \(json)\n\n"
        }
    }

    /// A movement with its warehouse's stock after it.
    struct MovementEvent: Encodable {
        var movement: API.Movement
        var onHand: Int64?
        func encode(to encoder: any Encoder) throws {
            try movement.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encodeIfPresent(onHand, forKey: .onHand)
        }
        enum Key: String, CodingKey { case onHand = "on_hand" }
    }

    static func encode(_ event: StoreEvent) -> (String, String) {
        let encoder = JSONEncoder()
        func text(_ value: some Encodable) -> String {
            do { return String(decoding: try encoder.encode(value), as: UTF8.self) } catch { return "{}" }
        }
        switch event {
        case .operation(let op):
            return (op.kind.isMovement ? "movement" : "product", text(API.Movement(MovementRecord(op))))
        case .alertRaised(let alert):
            return ("alert", text(AlertEvent(state: "raised", alert: API.Alert(alert))))
        case .alertCleared(let sku, let warehouse):
            return ("alert", text(["state": "cleared", "sku": sku, "warehouse": warehouse]))
        }
    }

    struct AlertEvent: Encodable {
        var state: String
        var alert: API.Alert
        func encode(to encoder: any Encoder) throws {
            try alert.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(state, forKey: .state)
        }
        enum Key: String, CodingKey { case state }
    }
}
