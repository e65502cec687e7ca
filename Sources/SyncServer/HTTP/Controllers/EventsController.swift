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
        let subscription = node.events.subscribe()
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            try await writer.write(ByteBuffer(string: ": connected to \(node.config.warehouse)\n\n"))
            for await delivery in subscription {
                try await writer.write(ByteBuffer(string: Self.frame(delivery)))
            }
            try await writer.finish(nil)
        })
    }

    /// One SSE frame: `event: <kind>` and one `data:` line of JSON.
    static func frame(_ delivery: EventHub.Delivery) -> String {
        switch delivery {
        case .heartbeat: return ": heartbeat\n\n"
        case .lagged: return "event: lagged\ndata: {}\n\n"
        case .event(let event):
            let (name, json) = encode(event)
            return "event: \(name)\ndata: \(json)\n\n"
        }
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
