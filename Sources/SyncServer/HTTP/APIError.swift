import Foundation
import HTTPTypes
import Hummingbird
import Store

/// An error answered as `{"error": {"code": "...", "message": "..."}}` with its HTTP status.
public struct APIError: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// Sent with the answer (`Retry-After` of a 429, `Allow` of a 405).
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    struct Body: Codable {
        struct Detail: Codable {
            var code: String
            var message: String
        }
        var error: Detail
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try JSONEncoder().encode(Body(error: .init(code: code, message: message)))
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"inv\"" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, "bad_request", message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, "not_found", message) }
    static let unauthorized = APIError(.unauthorized, "unauthorized", "missing or invalid bearer token")
    static func forbidden(_ message: String) -> APIError { APIError(.forbidden, "forbidden", message) }

    /// Maps a store refusal to its status: syntax and range (and a transfer to a warehouse that is not an active member) → 422, missing things → 404, conflicts with the
    /// current state → 409; a storage failure, a stopped queue and a node catching up after a restore are 503.
    init(_ error: StoreError) {
        let status: HTTPResponse.Status
        switch error {
        case .invalidInput, .invalidQuantity, .invalidDelta, .overflow, .invalidOperation, .unknownWarehouse, .retiredWarehouse:
            status = .unprocessableContent
        case .unknownSKU, .unknownTransfer, .unknownToken: status = .notFound
        case .productExists, .productDeleted, .insufficientStock, .notDestination, .overAccept, .idempotencyConflict, .tokenRevoked,
             .tokenNameTaken, .adjustmentBelowZero, .skuDiffersOnlyByCase:
            status = .conflict
        case .storage, .unavailable, .catchingUp: status = .serviceUnavailable
        case .retired: status = .forbidden
        }
        self.init(status, error.code, error.description)
    }

    /// Maps a JSON decoding failure to a 400 that says what was wrong, without echoing the body.
    init(decoding error: any Error) {
        let message: String
        switch error {
        case DecodingError.keyNotFound(let key, _): message = "missing field \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            message = "wrong type for field \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            message = path.isEmpty ? "malformed JSON" : "invalid value for field \(path): \(context.debugDescription)"
        default: message = "malformed JSON"
        }
        self.init(.badRequest, "bad_request", message)
    }
}
