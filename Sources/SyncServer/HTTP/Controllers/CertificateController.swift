import Foundation
import Hummingbird
import Logging
import Store

/// `/v1/certificate`: reloading the node certificate from the data directory without a restart, after
/// `inv cert rotate` or `inv cert install` replaced the files.
struct CertificateController {
    let node: InvNode
    let credentials: ReloadableCredentials?

    func addRoutes(to group: RouterGroup<InvRequestContext>) {
        group.post("certificate/reload", use: reload)
    }

    /// Loads `tls/node.pem` and `tls/node-key.pem`, checks them against the cluster CA this node trusts and its
    /// warehouse, and serves them on every new connection (API, peer listener and outgoing peer calls). On any
    /// refusal the node keeps the certificate it has.
    @Sendable func reload(_ request: Request, context: InvRequestContext) async throws -> Response {
        _ = try context.require(.admin)
        guard let credentials else {
            throw APIError(.serviceUnavailable, "tls_not_serving", "this node's router is not serving TLS")
        }
        let loaded: NodeCredentials
        do {
            loaded = try credentials.reload(from: PKIFiles(directory: node.directory.tlsDirectory))
        } catch {
            throw APIError(.unprocessableContent, "invalid_certificate", "the node certificate was not reloaded: \(error)")
        }
        let certificate = API.Certificate(CertificateSummary(loaded.node.certificate), reloads: credentials.generation)
        context.logger.notice("node certificate reloaded", metadata: ["serial": .string(certificate.serial), "not_after": .string(certificate.notAfter)])
        return try context.respond(certificate, to: request)
    }
}
