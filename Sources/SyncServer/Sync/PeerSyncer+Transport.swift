import AsyncHTTPClient
import CRDT
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Store
import Synchronization
import X509

/// The HTTP requests of a round: JSON messages and pages of operations.
extension PeerSyncer {
    func postJSON<Reply: Decodable>(_ url: String, _ body: some Encodable) async throws -> Reply {
        let (response, data) = try await post(url, body, timeout: .seconds(30), upTo: 16 << 20)
        guard response.status == .ok else { throw SyncFailure.refusal(url, status: response.status.code, body: data) }
        return try JSONDecoder().decode(Reply.self, from: data)
    }

    /// A pulled page as it arrived (compressed), with what its headers say.
    struct FetchedPage {
        var page: ByteBuffer
        var more: Bool
        /// From `x-inv-highest`; `nil` when the peer did not send it or it did not parse.
        var highest: [ReplicaID: UInt64]?
    }

    /// Starts fetching the page of operations above `cursor`.
    func fetchPage(url: String, from me: String, cursor: VersionVector) -> Task<FetchedPage, any Error> {
        let request = SyncPullRequest(from: me, vector: cursor, limit: pageSize)
        return Task { try await self.postForPage(url + "/v1/sync/pull", request) }
    }

    private func postForPage(_ url: String, _ body: some Encodable) async throws -> FetchedPage {
        let (response, data) = try await post(url, body, timeout: .seconds(120), upTo: 64 << 20)
        guard response.status == .ok else { throw SyncFailure.refusal(url, status: response.status.code, body: data) }
        return FetchedPage(
            page: data, more: response.headers.first(name: SyncProtocol.moreHeader) == "1",
            highest: response.headers.first(name: SyncProtocol.highestHeader).flatMap(OperationPage.highest(fromHeader:)))
    }

    /// POSTs `body` as JSON to `url`; answers the response and up to `limit` bytes of its body.
    private func post(
        _ url: String, _ body: some Encodable, timeout: TimeAmount, upTo limit: Int
    ) async throws -> (HTTPClientResponse, ByteBuffer) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(body)))
        let response = try await http.execute(request, timeout: timeout)
        return (response, try await response.body.collect(upTo: limit))
    }
}

extension SyncFailure {
    /// A peer's answer other than 200, with the code of its API error when it sent one.
    static func refusal(_ url: String, status: UInt, body: ByteBuffer) -> SyncFailure {
        let code = try? JSONDecoder().decode(PeerRefusal.self, from: body).error.code
        return SyncFailure(url, answered: status, body: String(buffer: body), code: code)
    }
}

/// The API error a peer answers with (`{"error": {"code": …}}`), for its code.
private struct PeerRefusal: Decodable {
    struct Detail: Decodable { var code: String }
    var error: Detail
}
