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
        } catch let error as NIOTooManyBytesError {
            // What `collectBody(upTo:)` throws for a body over the limit.
            return try APIError(.contentTooLarge, "body_too_large", Self.tooLarge(error.maxBytes ?? context.maxUploadSize))
                .response(from: request, context: context)
        } catch let error as HTTPError {
            let code = error.status == .contentTooLarge ? "body_too_large" : (error.status == .notFound ? "not_found" : "http_error")
            let message = error.status == .contentTooLarge ? Self.tooLarge(context.maxUploadSize) : (error.body ?? error.status.reasonPhrase)
            return try APIError(error.status, code, message).response(from: request, context: context)
        } catch is DecodingError {
            return try APIError.badRequest("malformed JSON").response(from: request, context: context)
        } catch {
            context.logger.error("unexpected error on \(request.method) \(request.uri.path): \(error)")
            return try APIError(.internalServerError, "internal", "internal error").response(from: request, context: context)
        }
    }
}

extension ErrorMiddleware {
    /// "request body is larger than 1 MiB", from the limit itself.
    static func tooLarge(_ limit: Int) -> String {
        limit % (1 << 20) == 0 ? "request body is larger than \(limit >> 20) MiB" : "request body is larger than \(limit) bytes"
    }
}

/// Checks the bearer token of every request and records who made it. Secrets are never logged.
///
/// A failed check is logged with the token id (when the token names one) and the client's address, and counted by
/// ``AuthThrottle``: past its limit, failures are answered 429 with `Retry-After`. A request with no bearer token at
/// all guesses nothing: it is a plain 401, neither logged nor counted.
struct TokenAuthMiddleware: RouterMiddleware {
    typealias Context = InvRequestContext
    let authority: TokenAuthority

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { throw APIError.unauthorized }
        let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
        let identity: TokenAuthority.Identity
        switch authority.check(Self.bearerSecret(header), from: address) {
        case .identity(let found):
            identity = found
        case let .unauthorized(tokenID, failures, started):
            context.logger.warning("token check failed", metadata: [
                "token": .string(tokenID ?? "-"), "client": .string(address), "failures": .stringConvertible(failures),
            ])
            for key in started {
                context.logger.warning("throttling failed token checks: 429 until the window ends", metadata: Self.metadata(key))
            }
            throw APIError.unauthorized
        case let .throttled(_, retryAfter):
            throw APIError(.tooManyRequests, "too_many_requests", "too many failed token checks; retry in \(retryAfter) s",
                headers: [.retryAfter: String(retryAfter)])
        }
        var context = context
        context.identity = identity
        context.logger[metadataKey: "token"] = .string(identity.tokenID)
        return try await next(request, context)
    }

    static func metadata(_ key: AuthThrottle.Key) -> Logger.Metadata {
        switch key {
        case .address(let address): ["client": .string(address)]
        case .token(let id): ["token": .string(id)]
        }
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
