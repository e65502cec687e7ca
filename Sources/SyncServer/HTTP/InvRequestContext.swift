import Foundation
import Hummingbird
import NIOCore
import Store

/// The request context of the node's API: who is calling, and the connection they call on.
public struct InvRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``TokenAuthMiddleware`` for every `/v1` request that reached a route.
    public var identity: TokenAuthority.Identity?
    /// The client's connection (its TLS handler names a peer's certificate).
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Request bodies over 1 MiB are refused with 413.
    public var maxUploadSize: Int { 1 << 20 }

    /// Answers are JSON with sorted keys: a repeated request answers byte-identical JSON.
    public var responseEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    /// `value` as JSON by ``responseEncoder`` (Hummingbird's `ResponseEncoder`), with `status`.
    public func respond(_ value: some Encodable, status: HTTPResponse.Status = .ok, to request: Request) throws -> Response {
        var response = try responseEncoder.encode(value, from: request, context: self)
        response.status = status
        return response
    }

    /// The caller's identity if its role is at least `minimum` (admin ⊇ staff ⊇ reporter).
    ///
    /// - Throws: 401 without an identity, 403 when the role is too weak.
    public func require(_ minimum: TokenRecord.Role) throws -> TokenAuthority.Identity {
        guard let identity else { throw APIError.unauthorized }
        let rank: [TokenRecord.Role: Int] = [.reporter: 0, .staff: 1, .admin: 2]
        guard rank[identity.role, default: -1] >= rank[minimum, default: 3] else {
            let article = "aeiou".contains(minimum.rawValue.first ?? "x") ? "an" : "a"
            throw APIError.forbidden("this needs \(article) \(minimum.rawValue) token; yours is \(identity.role.rawValue)")
        }
        return identity
    }
}
