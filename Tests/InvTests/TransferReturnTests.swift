import Foundation
import Store
import Testing

extension InvCLITests.ClusterTests {
    /// Per SKU, stock of every warehouse plus goods in transit, as a node's snapshot shows them.
    static func conserved(_ snapshot: JSON) -> [String: Int64] {
        var totals: [String: Int64] = [:]
        for row in snapshot["stock"]?.array ?? [] {
            guard let sku = row["sku"]?.string, row["warehouse"]?.string != "in-transit" else { continue }
            totals[sku, default: 0] += row["quantity"]?.int ?? 0
        }
        for line in snapshot["in_transit"]?.array ?? [] {
            guard let sku = line["sku"]?.string else { continue }
            totals[sku, default: 0] += line["quantity"]?.int ?? 0
        }
        return totals
    }

    @Test("the destination returns part of a multi-line transfer while the source is stopped; both converge, the source accepts the return, stock + in transit is conserved")
    func returnWhileTheSourceIsOffline() throws {
        let cluster = try Cluster()
        defer { cluster.cleanup() }
        let mad = try cluster.found("MAD")
        let sev = try cluster.join("SEV", via: mad)
        for node in [mad, sev] { try node.start() }
        expectSuccess(try mad.inv("product", "add", "A", "--name", "Apple"))
        expectSuccess(try mad.inv("product", "add", "B", "--name", "Banana"))
        expectSuccess(try mad.inv("receive", "A", "10"))
        expectSuccess(try mad.inv("receive", "B", "10"))
        try cluster.converge([mad, sev])
        let shipment = cluster.root.file("shipment.csv")
        try "sku,quantity\nA,6\nB,4\n".write(toFile: shipment, atomically: true, encoding: .utf8)
        let document = try mad.json("transfer", "--to", "SEV", "--file", shipment)
        let transfer = try #require(document["id"]?.string)
        try cluster.converge([mad, sev])
        let expected: [String: Int64] = ["A": 10, "B": 10]

        // The source goes offline; the destination takes part, and sends the rest back.
        #expect(mad.stop() == 0)
        let accepted = try sev.inv("accept", String(transfer.prefix(8)), "--sku", "A", "--quantity", "2")
        expectSuccess(accepted)
        #expect(accepted.lines.count == 1 && accepted.lines[0].hasPrefix("accepted 2 x A from MAD (movement "), "\(accepted)")
        let back = "0190a5c4-0000-7000-8000-00000000b0c1"
        let returned = try sev.inv(
            "transfers", "return", transfer, "--sku", "A", "--quantity", "3", "--reason", "damaged", "--id", back)
        expectSuccess(returned)
        #expect(returned.lines == [
            "returned 3 x A to MAD (movement \(back))",
            "accept the transfer back at MAD with `inv accept \(back)`",
        ])
        #expect(returned.lines.allSatisfy { $0.count <= 100 })
        let listed = try sev.inv("transfers")
        expectSuccess(listed)
        // One row per line, named by the shortest unique prefix of its transfer's id; the transfer back is listed too.
        #expect(listed.lines.count == 8, "\(listed)")
        #expect(listed.lines.first == "ID        SKU  FROM  TO   IN TRANSIT  SHIPPED  ACCEPTED  RETURNED  SHIPPED AT")
        let rows = [
            "\(transfer.prefix(8))  A    MAD   SEV           1        6         2         3  ",
            "\(transfer.prefix(8))  B    MAD   SEV           4        4         0         0  ",
            "0190a5c4  A    SEV   MAD           3        3         0         0  ",
        ]
        for (line, row) in zip(listed.lines.dropFirst(2), rows) { #expect(line.hasPrefix(row), "\(listed)") }
        #expect(listed.lines.suffix(3) == ["", "in transit to MAD: 3 (1 transfer)", "in transit to SEV: 5 (1 transfer, 2 lines)"])
        #expect(listed.lines.allSatisfy { $0.count <= 100 })
        // Everything left in transit goes back in one transfer back of two lines.
        let restBack = "0190a5c4-0000-7000-8000-00000000b0c2"
        let rest = try sev.inv("transfers", "return", String(transfer.prefix(8)), "--reason", "not ordered", "--id", restBack)
        expectSuccess(rest)
        #expect(rest.lines == [
            "returned 1 x A to MAD (movement \(MovementID.line(of: restBack, sku: try SKU("A"))))",
            "returned 4 x B to MAD (movement \(MovementID.line(of: restBack, sku: try SKU("B"))))",
            "accept the transfer back at MAD with `inv accept \(restBack)`",
        ])
        #expect(rest.lines.allSatisfy { $0.count <= 100 })
        let ambiguous = try sev.inv("accept", "0190a5c4")
        #expect(ambiguous.status != 0 && ambiguous.stderrLines.count == 1 && ambiguous.stderrLines[0].contains("starts 2 transfers"), "\(ambiguous)")
        let overReturn = try sev.inv("transfers", "return", transfer, "--sku", "B", "--quantity", "1", "--reason", "again")
        #expect(overReturn.status != 0 && overReturn.stderrLines == ["inv: error: transfer \(transfer) has no B left in transit to return"])
        let noReason = try sev.inv("transfers", "return", transfer, "--sku", "A", "--reason", " ")
        #expect(noReason.status != 0 && noReason.stderrLines.count == 1)
        #expect(Self.conserved(try sev.snapshot()) == expected)

        // The source comes back: both converge, and it accepts what came back.
        try mad.start()
        try cluster.converge([mad, sev])
        #expect(Self.conserved(try mad.snapshot()) == expected)
        let tookBack = try mad.inv("accept", back)
        expectSuccess(tookBack)
        #expect(tookBack.lines.count == 1 && tookBack.lines[0].hasPrefix("accepted 3 x A from SEV (movement "), "\(tookBack)")
        let both = try mad.inv("accept", restBack)
        expectSuccess(both)
        #expect(both.lines.count == 2 && both.lines[0].hasPrefix("accepted 1 x A from SEV (movement ")
            && both.lines[1].hasPrefix("accepted 4 x B from SEV (movement "), "\(both)")
        let common = try cluster.converge([mad, sev])
        #expect(Self.conserved(common) == expected)
        // Nothing is left in transit: SEV kept 2 of A, MAD holds the rest of both.
        #expect(common["in_transit"]?.array?.isEmpty == true, "\(common)")
        let madStock = try mad.json("stock")
        #expect(madStock.array?.map { [$0["sku"]?.string, $0["quantity"]?.int.map(String.init)] } == [["A", "8"], ["B", "10"]])
        let sevStock = try sev.json("stock", "--sku", "A")
        #expect(sevStock.array?.map { $0["quantity"]?.int } == [2])
    }
}
