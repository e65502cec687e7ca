import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

extension TestClientProtocol {
    /// Sends one request to the node's API with an optional bearer token and body (JSON text or raw bytes).
    func send(
        _ method: HTTPRequest.Method, _ uri: String, token: String?, json: String? = nil, bytes: [UInt8]? = nil,
        authorization: String? = nil
    ) async throws -> TestResponse {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        if let authorization { headers[.authorization] = authorization }
        var body: ByteBuffer?
        if let json { body = ByteBuffer(string: json) }
        if let bytes { body = ByteBuffer(bytes: bytes) }
        if body != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: body)
    }
}

/// A decoded JSON value, for checking answers key by key exactly as the node wrote them.
typealias JSONObject = [String: Any]

extension TestResponse {
    var text: String { String(buffer: body) }

    /// The JSON body re-encoded with sorted keys: the node's encoder does not promise a key order.
    var canonicalJSON: String {
        guard let value = try? JSONSerialization.jsonObject(with: Data(text.utf8)),
              let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])
        else { return "not JSON: \(text)" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The body as a JSON object.
    func object(sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONObject {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? JSONObject, "not a JSON object: \(text)", sourceLocation: sourceLocation)
    }

    /// The body as a JSON array of objects.
    func array(sourceLocation: SourceLocation = #_sourceLocation) throws -> [JSONObject] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [JSONObject], "not a JSON array: \(text)", sourceLocation: sourceLocation)
    }

    /// `error.code` of an error answer, or `nil` when the body is not the API's error shape.
    var errorCode: String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? JSONObject,
              object.count == 1, let error = object["error"] as? JSONObject,
              error.count == 2 || (error.count == 3 && error["line"] is NSNumber), error["message"] is String
        else { return nil }
        return error["code"] as? String
    }
}

extension TestResponse {
    /// `error.line` of an error answer about one line of a document.
    var errorLine: Int64? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? JSONObject else { return nil }
        return object.object("error")?.int("line")
    }
}

extension Dictionary where Key == String, Value == Any {
    func string(_ key: String) -> String? { self[key] as? String }
    func int(_ key: String) -> Int64? {
        switch self[key] {
        case let value as Int: Int64(value)
        case let value as Int64: value
        case let value as NSNumber: value.int64Value
        default: nil
        }
    }
    func bool(_ key: String) -> Bool? { self[key] as? Bool }
    func object(_ key: String) -> JSONObject? { self[key] as? JSONObject }
    /// Whether `key` is present with the JSON value `null`.
    func isNull(_ key: String) -> Bool { self[key] is NSNull }
    var keySet: Set<String> { Set(keys) }
}
