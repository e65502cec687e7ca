import Foundation
import Hummingbird

/// JSON responses with the API's content type.
enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        // Stable key order: a repeated request answers byte-identical JSON.
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(value)
        return make(json: ByteBuffer(bytes: data), status: status)
    }

    /// A response carrying JSON already written.
    static func make(json: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: json))
    }
}
