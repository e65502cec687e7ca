import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SyncServer

/// A hostile member of a ``Cluster``: a test program holding a real member certificate, issued by the cluster CA
/// with `inv cert issue` on the founding node, that speaks HTTPS (verification on) to real `inv serve` processes.
final class HostilePeer: Sendable {
    struct Answer: Sendable, CustomStringConvertible {
        var status: Int
        var body: String
        var description: String { "\(status) \(body.prefix(300))" }
    }

    let warehouse: String
    /// The member certificate and key the test program holds.
    let credentials: NodeCredentials
    /// Its certificate as a hello carries it: base64 DER.
    let certificateBase64: String
    private let http: HTTPClient

    /// Issues a certificate for `warehouse` on `sponsor` (`inv cert issue`) and loads it from the join bundle.
    init(_ warehouse: String, issuedBy sponsor: ClusterNode, in root: TemporaryDirectory) throws {
        self.warehouse = warehouse
        let bundlePath = root.file("\(warehouse)-hostile.join")
        let issued = try sponsor.run(["cert", "issue", warehouse, "--out", bundlePath, "--data", sponsor.data])
        guard issued.status == 0 else { throw HarnessError("inv cert issue \(warehouse) failed: \(issued)") }
        let bundle = try JSONDecoder().decode(JoinBundle.self, from: Data(contentsOf: URL(fileURLWithPath: bundlePath)))
        let tls = root.file("\(warehouse)-hostile-tls")
        try FileManager.default.createDirectory(atPath: tls, withIntermediateDirectories: true)
        let pki = PKIFiles(directory: tls)
        for (text, path) in [(bundle.caCertificate, pki.caCertificatePath), (bundle.certificate, pki.nodeCertificatePath), (bundle.privateKey, pki.nodeKeyPath)] {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o600)
        }
        let credentials = try pki.loadNodeCredentials()
        self.credentials = credentials
        certificateBase64 = bundle.certificate.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: credentials.clientTLS(withClientCertificate: true), timeout: .init(connect: .seconds(5), read: .seconds(30)))
        configuration.connectionPool.retryConnectionEstablishment = false
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func shutdown() async {
        do { try await http.shutdown() } catch { /* already shut down */ }
    }

    /// POSTs a JSON body to a node's peer listener (or any URL).
    func post(_ url: String, json: String) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: Array(json.utf8)))
        return try await answer(request)
    }

    /// GETs a node's API with a bearer token (the API listener asks for no client certificate).
    func get(_ url: String, token: String) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        return try await answer(request)
    }

    /// Pulls one page from a node's peer listener, as member `warehouse`, for the operations `vector` lacks.
    func pullPage(_ peerURL: String, vector: [String: UInt64], limit: Int = 1_000) async throws -> ByteBuffer {
        let entries = vector.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
        var request = HTTPClientRequest(url: peerURL + "/v1/sync/pull")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: Array(#"{"v":1,"from":"\#(warehouse)","vector":{\#(entries)},"limit":\#(limit)}"#.utf8)))
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 << 20)
        guard response.status == .ok else { throw HarnessError("pull answered \(response.status): \(String(buffer: body))") }
        return body
    }

    /// Pushes a page to a node's peer listener, as member `warehouse`.
    func pushPage(_ peerURL: String, _ page: ByteBuffer) async throws -> Answer {
        var request = HTTPClientRequest(url: peerURL + "/v1/sync/push")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: SyncProtocol.pageContentType)
        request.headers.add(name: "x-inv-from", value: warehouse)
        request.body = .bytes(page)
        return try await answer(request)
    }

    private func answer(_ request: HTTPClientRequest) async throws -> Answer {
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        return Answer(status: Int(response.status.code), body: String(buffer: body))
    }
}

extension ClusterNode {
    /// The admin token `inv init` wrote.
    var adminToken: String {
        get throws { try String(contentsOfFile: data + "/admin.token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
    }
}
