import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import SyncServer

/// A clerk's bulk work through the CLI against a live node: a catalogue imported from CSV and a receipt document of
/// as many lines, beside the same number of products created by single requests.
struct ImportBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "inv import products and a receipt document through the CLI, beside single requests.")

    @Option(help: "Products in the catalogue, and lines in the receipt.") var rows = 5_000

    func run() async throws {
        let scratch = try scratchDirectory("import")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        print("inv-bench import: \(rows) products with `inv import products`, a \(rows)-line `inv receive --file`, and \(rows) products by single POST /v1/products, against one live node")

        let directory = DataDirectory(path: scratch + "/A")
        var created = try await NodeSetup.create(directory: directory, warehouse: "A", listen: "127.0.0.1:\(try LoopbackPorts.free())")
        created.config.peerListen = "127.0.0.1:\(try LoopbackPorts.free())"
        try directory.saveConfig(created.config)
        let inv = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            .deletingLastPathComponent().appendingPathComponent("inv").path
        guard FileManager.default.isExecutableFile(atPath: inv) else { throw BenchError("build inv beside inv-bench first (\(inv))") }
        let ca = PKIFiles(directory: directory.tlsDirectory).caCertificatePath
        let target = ["--node", created.config.url, "--ca", ca, "--token", created.adminToken]

        var catalogue = "sku,name,description,price,reorder_point,barcodes\n"
        var receipt = "sku,quantity\n"
        for index in 0..<rows {
            catalogue += "BENCH-\(index),Product \(index),\"Bench product \(index), boxed\",\(index % 100).50,\(index % 7),\n"
            receipt += "BENCH-\(index),\(1 + index % 5)\n"
        }
        try catalogue.write(toFile: scratch + "/catalogue.csv", atomically: true, encoding: .utf8)
        try receipt.write(toFile: scratch + "/receipt.csv", atomically: true, encoding: .utf8)

        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(ca)
            return tls
        }()))
        let node = try NodeProcess.spawn(directory)
        do {
            _ = try await NodeStatus.wait(client: client, url: created.config.url, token: created.adminToken) { _ in true }

            let importStart = now()
            let imported = try TemporaryPostgres.run(inv, ["import", "products", scratch + "/catalogue.csv", "--json"] + target)
            let importSeconds = now() - importStart
            guard imported.contains("\"created\" : \(rows)") else { throw BenchError("import: \(imported)") }

            let receiptStart = now()
            let received = try TemporaryPostgres.run(inv, ["receive", "--file", scratch + "/receipt.csv", "--json"] + target)
            let receiptSeconds = now() - receiptStart
            guard received.contains("\"type\" : \"receive\"") else { throw BenchError("receive --file: \(received.prefix(500))") }

            // The same number of products, one request each, over one keep-alive connection.
            let singleStart = now()
            for index in 0..<rows {
                var request = HTTPClientRequest(url: created.config.url + "/v1/products")
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(created.adminToken)")
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: #"{"sku": "SINGLE-\#(index)", "name": "Product \#(index)", "price": "\#(index % 100).50", "reorder_point": \#(index % 7)}"#))
                let response = try await client.execute(request, timeout: .seconds(30))
                _ = try await response.body.collect(upTo: 1 << 20)
                guard response.status == .created else { throw BenchError("single request \(index): \(response.status)") }
            }
            let singleSeconds = now() - singleStart

            figure("import_products_s", importSeconds, "s", limit: "<= 5")
            figure("receipt_document_s", receiptSeconds, "s", limit: "<= 2")
            figure("single_requests_s", singleSeconds, "s")
            print(String(format: "RESULT import_products_s=%.2f receipt_document_s=%.2f single_requests_s=%.2f", importSeconds, receiptSeconds, singleSeconds))
        } catch {
            await node.stop()
            try await client.shutdown()
            throw error
        }
        await node.stop()
        try await client.shutdown()
    }
}
