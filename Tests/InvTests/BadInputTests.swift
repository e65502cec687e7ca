import Foundation
import Testing

extension InvCLITests {
    @Suite("Bad input: one line on stderr, nothing changed")
    struct BadInputTests {
        /// A bad command, and the exact error line where it is part of the contract (nil: only `inv: error:`).
        struct Case: CustomStringConvertible {
            var arguments: [String]
            var error: String?
            var description: String { arguments.joined(separator: " ") }
        }

        static let quantityError = "inv: error: quantity must be a whole number from 1 to 1000000000, got "
        static let deltaError = "inv: error: delta must be a non-zero whole number from -1000000000 to 1000000000, got "
        static let priceError = "inv: error: price must be a decimal like 12.50 (at most 4 decimals), got "

        static let cases: [Case] = [
            Case(arguments: ["sell", "SKU-1", "7"], error: "inv: error: not enough stock of SKU-1 in MAD: 6 on hand, 7 requested"),
            Case(arguments: ["transfer", "SKU-1", "7", "--to", "BCN"], error: "inv: error: not enough stock of SKU-1 in MAD: 6 on hand, 7 requested"),
            Case(arguments: ["transfer", "SKU-1", "1", "--to", "NOWHERE"], error: "inv: error: unknown warehouse NOWHERE: not a member of this cluster"),
            Case(arguments: ["sell", "NOPE", "1"], error: "inv: error: unknown sku NOPE"),
            Case(arguments: ["receive", "NOPE", "1"], error: "inv: error: unknown sku NOPE"),
            Case(arguments: ["receive", "SKU-1", "0"], error: quantityError + "0"),
            Case(arguments: ["sell", "SKU-1", "0"], error: quantityError + "0"),
            Case(arguments: ["receive", "SKU-1", "1000000001"], error: quantityError + "1000000001"),
            // A negative number looks like an option to ArgumentParser; the commands still say what is wrong with it.
            Case(arguments: ["receive", "SKU-1", "-5"], error: quantityError + "-5"),
            Case(arguments: ["sell", "SKU-1", "-5"], error: quantityError + "-5"),
            Case(arguments: ["transfer", "SKU-1", "-5", "--to", "BCN"], error: quantityError + "-5"),
            Case(arguments: ["transfer", "SKU-1", "0", "--to", "BCN"], error: quantityError + "0"),
            Case(arguments: ["receive", "SKU-1", "abc"], error: quantityError + "abc"),
            Case(arguments: ["sell", "SKU-1", "1.5"], error: quantityError + "1.5"),
            Case(arguments: ["receive", "SKU-1"], error: quantityError + "nothing"),
            Case(arguments: ["receive", "SKU-1", "-5", "3"], error: quantityError + "-5 3"),
            Case(arguments: ["adjust", "SKU-1", "-3"], error: "inv: error: an adjustment needs --reason"),
            Case(arguments: ["adjust", "SKU-1", "abc", "--reason", "count"], error: nil),
            Case(arguments: ["adjust", "SKU-1", "-1000000001", "--reason", "count"], error: deltaError + "-1000000001"),
            Case(arguments: ["adjust", "SKU-1", "0", "--reason", "count"], error: deltaError + "0"),
            Case(arguments: ["adjust", "SKU-1", "-7", "--reason", "count"], error: "inv: error: cannot adjust SKU-1 in MAD by -7: 6 on hand, so the count would fall to -1"),
            Case(arguments: ["product", "add", "SKU-2", "--name", "Gadget", "--price", "abc"], error: priceError + "\"abc\""),
            Case(arguments: ["product", "add", "SKU-2", "--name", "Gadget", "--price", "12,50"], error: priceError + "\"12,50\""),
            Case(arguments: ["product", "add", "SKU-2", "--name", "Gadget", "--price", "-1"], error: priceError + "\"-1\""),
            Case(arguments: ["product", "add", "SKU-2", "--name", "Gadget", "--reorder-point", "-1"],
                 error: "inv: error: reorder point must be from 0 to 1000000000, got -1"),
            Case(arguments: ["product", "update", "SKU-1", "--reorder-point", "-1"], error: "inv: error: reorder point must be from 0 to 1000000000, got -1"),
            Case(arguments: ["product", "update", "SKU-1", "--price", "1.23456"], error: priceError + "\"1.23456\""),
            Case(arguments: ["product", "add", "bad sku", "--name", "Gadget"], error: "inv: error: sku must be 1-64 characters of A-Z a-z 0-9 . _ -, got \"bad sku\""),
        ]

        @Test("a zero adjustment is a usage error: its own message, and exit 64 like any other bad quantity")
        func zeroAdjustment() throws {
            let root = try TemporaryDirectory()
            defer { root.cleanup() }
            // Checked before any node is contacted: no data directory is needed to be told.
            let adjust = try runInv(["adjust", "SKU-1", "0", "--reason", "x"], in: root.path)
            #expect(expectOneLineError(adjust) == Self.deltaError + "0")
            let sell = try runInv(["sell", "SKU-1", "0"], in: root.path)
            #expect(expectOneLineError(sell) == Self.quantityError + "0")
            #expect(adjust.status == 64 && sell.status == 64, "\(adjust)\n\(sell)")
        }

        @Test("accepting a fully accepted transfer says nothing is left in transit")
        func acceptTwice() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            for node in [mad, sev] { try node.start() }
            expectSuccess(try mad.inv("product", "add", "SKU-1", "--name", "Widget"))
            expectSuccess(try mad.inv("receive", "SKU-1", "5"))
            let shipped = try mad.inv("transfer", "SKU-1", "5", "--to", "SEV", "--json")
            #expect(shipped.status == 0, "\(shipped)")
            let id = try #require(try JSON.parse(shipped.stdout)["id"]?.string, "\(shipped)")
            #expect(try sev.inv("sync").status == 0)
            expectSuccess(try sev.inv("accept", id))
            let again = try sev.inv("accept", id)
            #expect(expectOneLineError(again) == "inv: error: transfer \(id) has nothing left in transit: it was fully accepted")
        }

        /// What no bad command may change.
        static let snapshotCommands = ["stock --all --json", "history --json", "product list --include-deleted --json"]

        @Test("each bad command fails with one line and leaves stock, ledger and catalogue unchanged")
        func badInput() throws {
            let node = try NodeFixture(warehouse: "MAD")
            defer { node.cleanup() }
            try node.start()
            expectSuccess(try node.inv("product", "add", "SKU-1", "--name", "Widget", "--price", "12.50"))
            expectSuccess(try node.inv("receive", "SKU-1", "6"))

            func snapshot() throws -> [JSON] {
                try Self.snapshotCommands.map { command in
                    let result = try node.run(command.split(separator: " ").map(String.init) + ["--data", node.data])
                    expectSuccess(result)
                    let json = try JSON.parse(result.stdout)
                    // Stock rows may carry live fields (when each warehouse was last heard from): keep the counts.
                    guard command.hasPrefix("stock"), let rows = json.array else { return json }
                    return .array(rows.map { $0.only(["sku", "warehouse", "quantity", "product_deleted"]) })
                }
            }
            let before = try snapshot()
            #expect(before[0].array?.map { $0["quantity"] } == [6])

            for badCase in Self.cases {
                let result = try node.run(badCase.arguments + ["--data", node.data])
                let line = expectOneLineError(result)
                if let error = badCase.error {
                    #expect(line == error, "\(badCase)")
                }
                let after = try snapshot()
                for (index, command) in Self.snapshotCommands.enumerated() where after[index] != before[index] {
                    Issue.record("\(badCase) changed `\(command)`:\n\(before[index])\n->\n\(after[index])")
                }
            }
        }
    }
}
