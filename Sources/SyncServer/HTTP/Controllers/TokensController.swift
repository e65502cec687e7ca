import Foundation
import Hummingbird
import Logging
import Store

/// `/v1/tokens`: admin-only management of bearer tokens.
struct TokensController {
    let node: InvNode

    func addRoutes(to group: RouterGroup<InvRequestContext>) {
        group.post("tokens", use: create)
        group.get("tokens", use: list)
        group.delete("tokens/{id}", use: revoke)
        group.post("tokens/{id}/rotate", use: rotate)
    }

    @Sendable func create(_ request: Request, context: InvRequestContext) async throws -> Response {
        let identity = try context.require(.admin)
        let body = try await request.decodeJSON(API.TokenBody.self, context: context)
        let name = try body.name ?? defaultName(role: body.role, creator: identity.name)
        let (record, secret) = try await node.tokens.create(name: name, role: body.role, nowMilliseconds: InvNode.nowMilliseconds())
        context.logger.notice("token created", metadata: [
            "token": .string(record.id), "name": .string(record.name), "role": .string(record.role.rawValue),
            "by": .string(identity.tokenID), "by_name": .string(identity.name),
        ])
        return try context.respond(API.Token(record, secret: secret), status: .created, to: request)
    }

    /// `<role>-by-<creator>`, or with `-2`, `-3`... after it when a live token has that name (names are unique).
    private func defaultName(role: TokenRecord.Role, creator: String) throws -> String {
        let taken = Set(try node.store.reader.tokens().filter { $0.revokedAt == nil }.map(\.name))
        let base = String("\(role.rawValue)-by-\(creator)".prefix(TextLimits.actor - 6))
        var name = base
        var suffix = 2
        while taken.contains(name) {
            name = "\(base)-\(suffix)"
            suffix += 1
        }
        return name
    }

    /// The longest grace period a rotation may give the old secret: 30 days.
    static let maximumGraceSeconds: Int64 = 30 * 86_400

    /// Gives a token a new secret (shown once in the answer); the same id, name and role. An empty body means no
    /// grace period. An admin may rotate its own token: the answer carries the new secret.
    @Sendable func rotate(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.admin)
        let id = context.parameters.get("id") ?? ""
        var body = request
        let buffer = try await body.collectBody(upTo: context.maxUploadSize)
        let grace: Int64?
        if buffer.readableBytes == 0 {
            grace = nil
        } else {
            grace = try await body.decodeJSON(API.RotationBody.self, context: context).graceSeconds
        }
        if let grace, !(0...Self.maximumGraceSeconds).contains(grace) {
            throw APIError(
                .unprocessableContent, "invalid_input", "grace_seconds must be a whole number from 0 to \(Self.maximumGraceSeconds)")
        }
        let (record, secret) = try await node.tokens.rotate(
            id: id, graceMilliseconds: grace.map { $0 * 1_000 }, nowMilliseconds: InvNode.nowMilliseconds())
        context.logger.info("token rotated", metadata: ["rotated": .string(record.id)])
        return try context.respond(API.Token(record, secret: secret), to: request)
    }

    @Sendable func list(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.admin)
        return try context.respond(try node.store.reader.tokens().map { API.Token($0) }, to: request)
    }

    @Sendable func revoke(_ request: Request, context: InvRequestContext) async throws -> Response {
        let identity = try context.require(.admin)
        let id = context.parameters.get("id") ?? ""
        guard id != identity.tokenID else {
            throw APIError(.conflict, "own_token", "a token cannot revoke itself; use another admin token")
        }
        let record = try await node.tokens.revoke(id: id, nowMilliseconds: InvNode.nowMilliseconds())
        context.logger.notice("token revoked", metadata: [
            "token": .string(record.id), "name": .string(record.name), "role": .string(record.role.rawValue),
            "by": .string(identity.tokenID), "by_name": .string(identity.name),
        ])
        return try context.respond(API.Token(record), to: request)
    }
}
