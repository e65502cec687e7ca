import ArgumentParser
import CRDT
import Foundation
import Store

/// A narrated walk-through of two warehouses working apart and converging.
///
/// Runs two real node stores (SQLite files and ZMQ writers) in a temporary directory and exchanges their ledgers
/// as peers do; the networked three-node demo builds on the same steps.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show two warehouses selling apart and converging.")

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("inv-demo-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let madID = try ReplicaID("MAD")
        let sevID = try ReplicaID("SEV")
        let mad = try NodeStore(path: directory + "/MAD.sqlite", replica: madID)
        let sev = try NodeStore(path: directory + "/SEV.sqlite", replica: sevID)
        defer {
            mad.close()
            sev.close()
        }
        func step(_ text: String) { print("\n== \(text)") }
        func sync() async throws {
            for (from, to) in [(mad, sev), (sev, mad)] {
                let have = try to.reader.versionVector()
                var ops: [LedgerOperation] = []
                for origin in [madID, sevID] { ops += try from.reader.operations(origin: origin, after: have[origin], limit: 10_000) }
                let outcome = try await to.submit(.merge(ops))
                if case .merged(let report) = outcome {
                    print("   \(from.replica) -> \(to.replica): \(report.applied) operations merged, \(report.duplicates) already held")
                }
            }
        }
        func move(_ store: NodeStore, _ type: MovementType, _ code: String, _ quantity: Int64, to: ReplicaID? = nil, reason: String? = nil) async throws {
            let outcome = try await store.submit(.movement(MovementRequest(
                type: type, sku: try SKU(code), quantity: quantity, to: to, reason: reason, id: MovementID.generate(), actor: "demo")))
            if case .movement(let record, _) = outcome {
                print("   \(store.replica): \(record.type.rawValue) \(record.quantity) x \(record.sku)" + (to.map { " to \($0)" } ?? ""))
            }
        }

        step("MAD creates the catalogue and receives stock")
        for (code, name, point) in [("CHAIR-01", "Oak chair", Int64(5)), ("TABLE-01", "Oak table", 2)] {
            _ = try await mad.submit(.createProduct(ProductDraft(sku: try SKU(code), name: name, price: try Price("49.90"), reorderPoint: point), actor: "demo"))
            print("   MAD: product \(code) \(name)")
        }
        try await move(mad, .receive, "CHAIR-01", 40)
        try await move(mad, .receive, "TABLE-01", 10)
        try await sync()

        step("SEV is cut off, and keeps selling what it has")
        try await move(mad, .transfer, "CHAIR-01", 12, to: sevID)
        try await sync()
        let transfer = try sev.reader.openTransfers().first!
        _ = try await sev.submit(.accept(AcceptRequest(transferID: transfer.id, id: MovementID.generate(), actor: "demo")))
        print("   SEV: accepted transfer of \(transfer.shipped) x \(transfer.sku)")
        try await move(sev, .sell, "CHAIR-01", 8)
        _ = try await mad.submit(.updateProduct(sku: try SKU("CHAIR-01"), ProductPatch(price: .some("44.90")), actor: "demo"))
        print("   MAD: price of CHAIR-01 is now 44.90")
        try await move(mad, .sell, "CHAIR-01", 25)
        do {
            try await move(sev, .sell, "CHAIR-01", 10)
        } catch let error as StoreError {
            print("   SEV: refused: \(error)")
        }
        for alert in try mad.reader.alerts() { print("   MAD alert: \(alert.sku) at \(alert.warehouse) is down to \(alert.quantity) (reorder point \(alert.reorderPoint))") }

        step("The link returns: the nodes exchange what the other lacks")
        try await sync()
        let madState = try mad.reader.materializedStateDump()
        let sevState = try sev.reader.materializedStateDump()
        print("   converged: \(madState == sevState ? "yes" : "NO"); ledger: \(try mad.reader.operationCount()) operations on each node")
        print("   price of CHAIR-01 on SEV: \(try sev.reader.product(try SKU("CHAIR-01"))?.price ?? "-")")

        step("Global stock (as seen from SEV)")
        let rows = try sev.reader.stockAll()
        print(Table(headers: ["SKU", "WAREHOUSE", "QUANTITY"], rows: rows.map { [$0.sku, $0.warehouse, String($0.quantity)] }, numeric: [2]).render())
        guard madState == sevState else { throw ExitCode.failure }
    }
}
