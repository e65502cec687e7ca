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
    /// The line of a document (from 1) that the refusal is about, answered as `error.line`.
    public var line: Int?

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let data = try JSONEncoder().encode(API.ErrorBody(error: .init(code: code, message: message, line: line)))
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
        if case let .onLine(line, lineError) = error {
            self.init(lineError)
            self.message = error.description
            self.line = line
            return
        }
        let status: HTTPResponse.Status
        switch error {
        case .invalidInput, .invalidQuantity, .invalidDelta, .overflow, .invalidOperation, .unknownWarehouse, .retiredWarehouse:
            status = .unprocessableContent
        case .unknownSKU, .unknownTransfer, .unknownToken, .unknownTransferLine: status = .notFound
        case .productExists, .productDeleted, .insufficientStock, .notDestination, .overAccept, .idempotencyConflict, .tokenRevoked,
             .tokenNameTaken, .adjustmentBelowZero, .skuDiffersOnlyByCase, .barcodeTaken, .overReturn:
            status = .conflict
        case .storage, .unavailable, .catchingUp: status = .serviceUnavailable
        case .retired: status = .forbidden
        case .onLine: status = .unprocessableContent
        }
        self.init(status, error.code, error.description)
    }

    /// Maps a JSON decoding failure to a 400 that says what was wrong, without echoing the body.
    init(decoding error: any Error) {
        // A document's line (`lines[3].quantity`) or an import's row is named as its line, from 1, and the field within it.
        let line = Self.documentLine(of: error)
        func field(_ path: [any CodingKey]) -> String {
            path.dropFirst(line == nil ? 0 : 2).map(\.stringValue).joined(separator: ".")
        }
        var message: String
        switch error {
        case DecodingError.keyNotFound(let key, _): message = "missing field \(key.stringValue)"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            message = "wrong type for field \(field(context.codingPath))"
        case DecodingError.dataCorrupted(let context):
            let path = field(context.codingPath)
            message = path.isEmpty ? "malformed JSON" : "invalid value for field \(path): \(context.debugDescription)"
        default: message = "malformed JSON"
        }
        if let line { message = "line \(line): " + message }
        self.init(.badRequest, "bad_request", message)
        self.line = line
    }

    /// The line (from 1) a decoding failure is about, when its path runs through `lines[N]` (a document's body) or
    /// `products[N]` (an import's).
    static func documentLine(of error: any Error) -> Int? {
        let path: [any CodingKey]
        switch error {
        case DecodingError.keyNotFound(_, let context), DecodingError.typeMismatch(_, let context),
             DecodingError.valueNotFound(_, let context), DecodingError.dataCorrupted(let context):
            path = context.codingPath
        default: return nil
        }
        guard path.count >= 2, ["lines", "products"].contains(path[0].stringValue), let index = path[1].intValue else { return nil }
        return index + 1
    }
}
