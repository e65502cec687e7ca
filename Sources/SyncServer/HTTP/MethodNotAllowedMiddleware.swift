import HTTPTypes
import Hummingbird

/// Answers a known path asked with a method it does not take with 405 and an `Allow` header listing the methods it
/// takes (RFC 9110 §15.5.6), instead of the router's 404, which says the path does not exist.
///
/// Add it to a router last, once every route is added: a middleware added then applies only to the router's
/// not-found answer (routes already added keep the middleware they had), so it costs a matched route nothing. It
/// sits inside the ``ErrorMiddleware`` added first, which renders its error. A path and its methods are public
/// (docs/openapi.yaml), so they are told without a token.
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = InvRequestContext

    /// Each route's path, split into segments (`nil` for a `{parameter}`), with the methods it takes.
    private let patterns: [(segments: [Substring?], allow: Set<HTTPRequest.Method>)]

    init(routes: [Router<InvRequestContext>.RouteDescription]) {
        var methods: [String: Set<HTTPRequest.Method>] = [:]
        for route in routes { methods[route.path.description, default: []].insert(route.method) }
        patterns = methods.sorted { $0.key < $1.key }.map { path, allow in
            (Self.segments(path).map { $0.hasPrefix("{") && $0.hasSuffix("}") ? nil : $0 }, allow)
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let allow = allowed(path: request.uri.path)
            guard !allow.isEmpty, !allow.contains(request.method) else { throw error }
            let list = allow.map(\.rawValue).sorted().joined(separator: ", ")
            throw APIError(
                .methodNotAllowed, "method_not_allowed", "\(request.method.rawValue) is not allowed here; allowed: \(list)",
                headers: [.allow: list])
        }
    }

    /// The methods of every route whose path matches `path`.
    func allowed(path: String) -> Set<HTTPRequest.Method> {
        let segments = Self.segments(path)
        var allow: Set<HTTPRequest.Method> = []
        for pattern in patterns where pattern.segments.count == segments.count {
            let matches = zip(pattern.segments, segments).allSatisfy { expected, segment in
                expected.map { $0 == segment } ?? !segment.isEmpty
            }
            if matches { allow.formUnion(pattern.allow) }
        }
        return allow
    }

    private static func segments(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }
}
