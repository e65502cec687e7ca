import Hummingbird

/// A response carrying JSON the hand-written writer produced (``JSONText``), where the encoder costs too much
/// (docs/benchmarks.md); every other answer goes through ``InvRequestContext/respond(_:status:to:)``.
enum JSONResponse {
    static func make(json: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: json))
    }
}
