import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Store

/// Turns every error a route throws into a JSON error response with a 4xx status, so bad input never surfaces as
/// a 500. Only an unexpected failure is a 500, and it is logged.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = InvRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as StoreError {
            return try APIError(error).response(from: request, context: context)
        } catch is NIOTooManyBytesError {
            // What `collectBody(upTo: maxUploadSize)` throws for a body over the limit.
            return try APIError(.contentTooLarge, "body_too_large", "request body is larger than 1 MiB").response(from: request, context: context)
        } catch let error as HTTPError {
            let code = error.status == .contentTooLarge ? "body_too_large" : (error.status == .notFound ? "not_found" : "http_error")
            let message = error.status == .contentTooLarge ? "request body is larger than 1 MiB" : (error.body ?? error.status.reasonPhrase)
            return try APIError(error.status, code, message).response(from: request, context: context)
        } catch is DecodingError {
            return try APIError.badRequest("malformed JSON").response(from: request, context: context)
        } catch {
            context.logger.error("unexpected error on \(request.method) \(request.uri.path): \(error)")
            return try APIError(.internalServerError, "internal", "internal error").response(from: request, context: context)
        }
    }
}

/// Checks the bearer token of every request and records who made it. Secrets are never logged.
struct TokenAuthMiddleware: RouterMiddleware {
    typealias Context = InvRequestContext
    let authority: TokenAuthority

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
              let identity = authority.authenticate(Self.bearerSecret(header))
        else { throw APIError.unauthorized }
        var context = context
        context.identity = identity
        context.logger[metadataKey: "token"] = .string(identity.tokenID)
        return try await next(request, context)
    }

    /// The secret after `Bearer `, without surrounding spaces or tabs (Foundation's trimming bridged through
    /// `NSString` on every request).
    static func bearerSecret(_ header: String) -> String {
        let bytes = header.utf8.dropFirst(7)
        let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        guard let first = bytes.firstIndex(where: { !isBlank($0) }) else { return "" }
        let last = bytes.lastIndex(where: { !isBlank($0) })!
        return String(Substring(header.utf8[first...last]))
    }
}
