import Foundation
import Hummingbird
import Store

/// `/v1/tokens`: admin-only management of bearer tokens.
struct TokensController {
    let node: InvNode

    func addRoutes(to group: RouterGroup<InvRequestContext>) {
        group.post("tokens", use: create)
        group.get("tokens", use: list)
        group.delete("tokens/{id}", use: revoke)
    }

    struct CreateBody: Decodable {
        var role: TokenRecord.Role
        var name: String?
    }

    @Sendable func create(_ request: Request, context: InvRequestContext) async throws -> Response {
        let identity = try context.require(.admin)
        let body = try await request.decodeJSON(CreateBody.self, context: context)
        let name = body.name ?? String("\(body.role.rawValue)-by-\(identity.name)".prefix(TextLimits.actor))
        let (record, secret) = try await node.tokens.create(name: name, role: body.role, nowMilliseconds: InvNode.nowMilliseconds())
        return try JSONResponse.make(API.Token(record, secret: secret), status: .created)
    }

    @Sendable func list(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.admin)
        return try JSONResponse.make(try node.store.reader.tokens().map { API.Token($0) })
    }

    @Sendable func revoke(_ request: Request, context: InvRequestContext) async throws -> Response {
        let identity = try context.require(.admin)
        let id = context.parameters.get("id") ?? ""
        guard id != identity.tokenID else {
            throw APIError(.conflict, "own_token", "a token cannot revoke itself; use another admin token")
        }
        return try JSONResponse.make(API.Token(try await node.tokens.revoke(id: id, nowMilliseconds: InvNode.nowMilliseconds())))
    }
}
