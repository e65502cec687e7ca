import Foundation
import Testing

extension StockModel {
    /// Plans one operation at each of `nodes`, runs them all at once (one `inv` process each) and applies their
    /// outcomes to the model.
    ///
    /// - Parameter warehouses: every warehouse of the cluster, where shipments may go.
    /// - Returns: the operations whose outcome the model did not allow, with the reason and what `inv` answered; the
    ///   model leaves them out, as uncertain.
    mutating func runRound(
        at nodes: [ClusterNode], warehouses: [String], skus: [String], using random: inout SplitMix64
    ) throws -> [(operation: PlannedOperation, problem: String, result: InvResult)] {
        let planned = nodes.map { plan(at: $0.warehouse, others: warehouses, skus: skus, using: &random) }
        let results = try runInvConcurrently(zip(nodes, planned).map { node, op in (node, op.arguments + ["--json"]) })
        var problems: [(PlannedOperation, String, InvResult)] = []
        for (op, result) in zip(planned, results) {
            if let problem = apply(op, result) { problems.append((op, problem, result)) }
        }
        return problems
    }

    /// Checks that every one of `nodes`, converged on `snapshot`, holds exactly the model: the stock and the goods
    /// in transit it says (none negative), and each acknowledged movement exactly once (the version vector, and
    /// each node's history).
    ///
    /// - Parameter replay: how to replay the run (its seed), for every failure message.
    func expectHeld(by nodes: [ClusterNode], snapshot: JSON, replay: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(
            InvCLITests.ClusterTests.nonZeroStock(snapshot) == nonZeroStock, "\(replay): stock differs from the model",
            sourceLocation: sourceLocation)
        #expect(
            (snapshot["stock"]?.array ?? []).allSatisfy { ($0["quantity"]?.int ?? -1) >= 0 }, "\(replay): \(snapshot)",
            sourceLocation: sourceLocation)
        let transitKeys: Set = ["id", "sku", "from", "to", "quantity", "shipped", "accepted"]
        let transit = (snapshot["in_transit"]?.array ?? []).map { $0.only(transitKeys) }
        #expect(
            Set(transit.map(\.description)) == Set(inTransitRows.map(\.description)), "\(replay): goods in transit",
            sourceLocation: sourceLocation)
        #expect(transit.count == inTransitRows.count, "\(replay)", sourceLocation: sourceLocation)
        #expect(
            snapshot["version_vector"] == versionVector, "\(replay): every acknowledged operation exactly once",
            sourceLocation: sourceLocation)
        for node in nodes {
            let movements = try node.history().filter { InvCLITests.ClusterTests.movementTypes.contains($0["type"]?.string ?? "") }
            let ids = movements.compactMap { $0["id"]?.string }
            #expect(ids.count == Set(ids).count, "\(replay): \(node.warehouse) lists a movement twice", sourceLocation: sourceLocation)
            let held = Set(ids)
            let expected = Set(acknowledged.keys)
            #expect(
                held == expected,
                "\(replay): \(node.warehouse) lacks \(expected.subtracting(held).count) acknowledged movements, holds \(held.subtracting(expected).count) unknown ones",
                sourceLocation: sourceLocation)
        }
    }
}
