import Foundation
import Testing

extension InvCLITests {
    /// `inv receive|sell|transfer|count --file` and `inv document show`: exact output, exit codes, the file's line
    /// numbers in refusals, standard input through a pipe.
    @Suite("Documents: receive, sell, transfer and count from a CSV file")
    struct DocumentCommandTests {
        static func write(_ text: String, to path: String) throws {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }

        static func stock(_ node: ClusterNode, _ sku: String) throws -> Int64? {
            try node.json("stock", sku).array?.first?["quantity"]?.int
        }

        /// The movement id of each line of document `id`, in order ("-" for none).
        static func movements(_ node: ClusterNode, _ id: String) throws -> [String] {
            try node.json("document", "show", id)["lines"]?.array?.map { $0["movement"]?.string ?? "-" } ?? []
        }

        @Test("receive and count --file print the document; a retry with --id records nothing; document show")
        func receiveAndCount() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            try mad.start()
            for sku in ["CHAIR-01", "DESK-02", "LAMP-03"] { expectSuccess(try mad.inv("product", "add", sku, "--name", "Product \(sku)")) }
            let file = cluster.root.file("delivery.csv")
            try Self.write("sku,quantity\nCHAIR-01,1200\nDESK-02,5\n\nCHAIR-01,3\n", to: file)
            let id = UUID().uuidString.lowercased()
            let received = try mad.inv("receive", "--file", file, "--reference", "DN-7", "--id", id)
            expectSuccess(received)
            let ids = try Self.movements(mad, id)
            try #require(ids.count == 2)
            #expect(received.lines == [
                "received 1,208 units of 2 products at MAD",
                "document \(id)",
                "SKU       QUANTITY  MOVEMENT",
                "--------  --------  ------------------------------------",
                "CHAIR-01     1,203  \(ids[0])",
                "DESK-02          5  \(ids[1])",
            ])
            #expect(try Self.stock(mad, "CHAIR-01") == 1_203)
            // Every line is a movement in the ledger, with the document's reference.
            let history = try mad.history("--sku", "DESK-02")
            #expect(history.last?["reference"]?.string == "DN-7")
            #expect(history.last?["id"]?.string == ids[1])

            let again = try mad.inv("receive", "--file", file, "--reference", "DN-7", "--id", id)
            expectSuccess(again)
            #expect(Array(again.lines.prefix(2)) == ["received 1,208 units of 2 products at MAD", "document \(id) (already recorded; nothing changed)"])
            #expect(try Self.stock(mad, "CHAIR-01") == 1_203)

            let json = try mad.json("receive", "--file", file, "--id", id, "--reference", "DN-7")
            #expect(Set(json.object?.keys.map { $0 } ?? []) == ["id", "type", "warehouse", "to", "reason", "reference", "timestamp", "user", "lines"])

            let countFile = cluster.root.file("count.csv")
            try Self.write("sku,quantity\nCHAIR-01,1200\nDESK-02,5\nLAMP-03,2\n", to: countFile)
            let countID = UUID().uuidString.lowercased()
            let counted = try mad.inv("count", "--file", countFile, "--id", countID)
            expectSuccess(counted)
            let adjustments = try Self.movements(mad, countID)
            #expect(counted.lines == [
                "counted 3 products at MAD: 2 adjusted, 1 already right",
                "document \(countID)",
                "SKU       COUNTED  ADJUSTMENT  MOVEMENT",
                "--------  -------  ----------  ------------------------------------",
                "CHAIR-01    1,200          -3  \(adjustments[0])",
                "DESK-02         5           0  -",
                "LAMP-03         2          +2  \(adjustments[2])",
            ])
            #expect(try Self.stock(mad, "CHAIR-01") == 1_200)
            #expect(try Self.stock(mad, "LAMP-03") == 2)

            let shown = try mad.inv("document", "show", countID)
            expectSuccess(shown)
            #expect(shown.lines.first == counted.lines.first)
            #expect(shown.lines[1].hasPrefix("document \(countID) by admin at "))
            #expect(Array(shown.lines.dropFirst(2)) == Array(counted.lines.dropFirst(2)))
            #expect(shown.lines.allSatisfy { $0.count <= 100 })
            #expect(expectOneLineError(try mad.inv("document", "show", UUID().uuidString)).contains("no document"))
        }

        @Test("sell --file - reads standard input; a refusal names the file's line, exits 1 and changes nothing")
        func sellFromStandardInputAndRefusals() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            try mad.start()
            for sku in ["A", "B"] { expectSuccess(try mad.inv("product", "add", sku, "--name", "Product \(sku)")) }
            expectSuccess(try mad.inv("receive", "A", "5"))
            expectSuccess(try mad.inv("receive", "B", "5"))
            let input = cluster.root.file("sale.csv")
            let inv = try InvBinary.path()
            func piped(_ text: String, _ arguments: [String]) throws -> InvResult {
                try Self.write(text, to: input)
                let child = try ChildProcess(
                    executable: "/bin/sh", ["-c", "cat \"$0\" | exec \"$@\"", input, inv] + arguments + ["--data", mad.data],
                    outputIn: cluster.root.path)
                guard child.wait(upTo: .seconds(30)) != nil else {
                    child.stop(signal: SIGKILL)
                    throw HarnessError("inv did not finish")
                }
                return child.result()
            }
            let sold = try piped("sku,quantity\nA,2\nB,1\n", ["sell", "--file", "-"])
            expectSuccess(sold)
            #expect(sold.lines.first == "sold 3 units of 2 products at MAD")
            #expect(try Self.stock(mad, "A") == 3)

            // Line 4 of the file (the header is line 1, a blank line is skipped): A's running total goes beyond 3.
            let refused = try piped("sku,quantity\nB,1\n\nA,2\nA,2\n", ["sell", "--file", "-"])
            #expect(refused.status == 1)
            #expect(expectOneLineError(refused) == "inv: error: standard input line 5: not enough stock of A in MAD: 3 on hand, 4 requested")
            #expect(try Self.stock(mad, "A") == 3)
            #expect(try Self.stock(mad, "B") == 4)

            let unknown = try piped("sku,quantity\nA,1\nNOPE,1\n", ["receive", "--file", "-"])
            #expect(expectOneLineError(unknown) == "inv: error: standard input line 3: unknown sku NOPE")
            let badQuantity = try piped("sku,quantity\nA,1\nB,two\n", ["receive", "--file", "-"])
            #expect(expectOneLineError(badQuantity) == "inv: error: standard input line 3: quantity must be a whole number, got \"two\"")
            let badHeader = try piped("product;qty\nA;1\n", ["receive", "--file", "-"])
            #expect(expectOneLineError(badHeader) == "inv: error: standard input line 1: the header must be sku,quantity, got product;qty")
            let twice = try piped("sku,quantity\nA,1\nA,2\n", ["count", "--file", "-"])
            #expect(expectOneLineError(twice) == "inv: error: standard input line 3: A is counted twice (lines 1 and 2); give one count per product")
            #expect(try Self.stock(mad, "A") == 3)

            let both = try mad.inv("receive", "A", "1", "--file", input)
            #expect(both.status == 64)
            #expect(expectOneLineError(both) == "inv: error: give either SKU QUANTITY or --file FILE, not both")
            #expect(expectOneLineError(try mad.inv("count")) == "inv: error: inv count needs --file FILE (CSV with the header sku,quantity)")
            #expect(expectOneLineError(try mad.inv("receive", "--file", cluster.root.file("missing.csv"))).contains("cannot read"))
        }

        @Test("transfer --to W --file ships every line under the document's id; the destination accepts a line, then the rest")
        func transferFile() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            for member in [mad, sev] { try member.start() }
            for sku in ["A", "B"] { expectSuccess(try mad.inv("product", "add", sku, "--name", "Product \(sku)")) }
            expectSuccess(try mad.inv("receive", "A", "10"))
            expectSuccess(try mad.inv("receive", "B", "10"))
            let file = cluster.root.file("shipment.csv")
            try Self.write("sku,quantity\nA,4\nB,6\n", to: file)
            let id = UUID().uuidString.lowercased()
            let shipped = try mad.inv("transfer", "--to", "SEV", "--file", file, "--id", id)
            expectSuccess(shipped)
            let ids = try Self.movements(mad, id)
            #expect(shipped.lines == [
                "shipped 10 units of 2 products from MAD to SEV",
                "document \(id)",
                "SKU  QUANTITY  MOVEMENT",
                "---  --------  ------------------------------------",
                "A           4  \(ids[0])",
                "B           6  \(ids[1])",
            ])
            let receipt = cluster.root.file("receipt.csv")
            try Self.write("sku,quantity\nB,2\n", to: receipt)
            let receiptID = UUID().uuidString.lowercased()
            expectSuccess(try mad.inv("receive", "--file", receipt, "--id", receiptID))
            expectSuccess(try mad.inv("receive", "A", "1"))
            _ = try cluster.converge([mad, sev])
            // Every node's history and change feed name the document each movement is a line of.
            for (node, command) in [(sev, ["history", "--json"]), (sev, ["changes", "--format", "json"]), (mad, ["history", "--json"])] {
                let output = try node.run(command + ["--data", node.data])
                expectSuccess(output)
                let parsed = try JSON.parse(output.stdout)
                let entries = parsed.array ?? parsed["changes"]?.array ?? []
                let documents = entries.filter { $0["type"]?.string?.hasPrefix("product") == false }.map { entry in
                    "\(entry["type"]?.string ?? "?") \(entry["sku"]?.string ?? "?") \(entry["document"]?.string ?? "-")"
                }
                #expect(documents == [
                    "receive A -", "receive B -", "transfer A \(id)", "transfer B \(id)", "receive B \(receiptID)", "receive A -",
                ], "\(node.warehouse) \(command)")
            }
            // A transfer is named by its id or a unique prefix of at least 8 characters, in any case.
            let first = try sev.inv("accept", id, "--sku", "A")
            expectSuccess(first)
            #expect(first.lines.count == 1 && first.lines[0].hasPrefix("accepted 4 x A from MAD (movement "), "\(first)")
            #expect(expectOneLineError(try sev.inv("accept", String(id.prefix(7)))) == "inv: error: give the transfer id or at least its first 8 characters, got \"\(id.prefix(7))\"")
            #expect(expectOneLineError(try sev.inv("accept", "ffffffff-")).hasPrefix("inv: error: no transfer in transit has an id starting with ffffffff-"))
            #expect(expectOneLineError(try sev.inv("accept", id, "--sku", "C")) == "inv: error: transfer \(id) has no line for C")
            let rest = try sev.inv("accept", String(id.prefix(30)).uppercased())
            expectSuccess(rest)
            #expect(rest.lines.count == 1 && rest.lines[0].hasPrefix("accepted 6 x B from MAD (movement "), "\(rest)")
            _ = try cluster.converge([mad, sev])
            #expect(try Self.stock(sev, "A") == 4)
            #expect(try Self.stock(mad, "B") == 6)
        }
    }
}

extension InvCLITests {
    @Suite("Catalogue: inv import products and inv product list --format csv")
    struct CatalogueImportTests {
        @Test("an export imports back unchanged; a bad row names its line and writes nothing")
        func roundTrip() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            try mad.start()
            let file = cluster.root.file("catalogue.csv")
            // Texts that need quoting, and one that a spreadsheet would run as a formula.
            try #"""
                sku,name,description,price,reorder_point,barcodes
                CHAIR-01,Oak chair,"Solid oak, waxed",49.90,5,73513537 4006381333931
                DESK-02,"Desk ""Pro""",=HYPERLINK(x),,,
                LAMP-03,-Lamp,'quoted,0.5,0,

                """#.write(toFile: file, atomically: true, encoding: .utf8)
            let imported = try mad.inv("import", "products", file)
            expectSuccess(imported)
            #expect(imported.lines == ["imported 3 products: 3 created, 0 updated, 0 unchanged"])

            let exported = try mad.inv("product", "list", "--format", "csv")
            expectSuccess(exported)
            #expect(exported.lines == [
                "sku,name,description,price,reorder_point,barcodes",
                #"CHAIR-01,Oak chair,"Solid oak, waxed",49.90,5,4006381333931 73513537"#,
                #"DESK-02,"Desk ""Pro""",'=HYPERLINK(x),,,"#,
                // A cell's leading `'` is read as the neutralising mark, so `'quoted` imported as `quoted`.
                "LAMP-03,'-Lamp,quoted,0.5,0,",
            ])
            let desk = try mad.json("product", "show", "DESK-02")
            #expect(desk["description"]?.string == "=HYPERLINK(x)")
            #expect(try mad.json("product", "show", "LAMP-03")["name"]?.string == "-Lamp")

            let export = cluster.root.file("export.csv")
            try exported.stdout.write(toFile: export, atomically: true, encoding: .utf8)
            let again = try mad.json("import", "products", export)
            #expect(again == ["created": 0, "updated": 0, "unchanged": 3])

            try """
                sku,name,description,price,reorder_point,barcodes
                CHAIR-01,Oak chair,,49.90,5,
                NEW-04,New,,,,
                BAD-05,Bad,,1.234567,,

                """.write(toFile: file, atomically: true, encoding: .utf8)
            let refused = try mad.inv("import", "products", file)
            #expect(refused.status == 1)
            #expect(expectOneLineError(refused) == "inv: error: \(file) line 4: price must be a decimal like 12.50 (at most 4 decimals), got \"1.234567\"")
            #expect(try mad.inv("product", "show", "NEW-04").status != 0)
            #expect(try mad.json("product", "show", "CHAIR-01")["description"]?.string == "Solid oak, waxed")
            // A barcode names its product on every command; update replaces or clears the set.
            #expect(try mad.json("product", "show", "73513537")["sku"]?.string == "CHAIR-01")
            expectSuccess(try mad.inv("receive", "4006381333931", "2"))
            expectSuccess(try mad.inv("product", "add", "MUG-06", "--name", "Mug", "--barcode", "036000291452"))
            let shown = try mad.inv("product", "show", "036000291452")
            #expect(shown.lines.first == "sku:           MUG-06")
            #expect(shown.lines.contains("barcodes:      036000291452"))
            #expect(expectOneLineError(try mad.inv("product", "add", "CUP-07", "--name", "Cup", "--barcode", "036000291452"))
                == "inv: error: barcode 036000291452 already belongs to product MUG-06")
            #expect(expectOneLineError(try mad.inv("product", "add", "CUP-07", "--name", "Cup", "--barcode", "036000291453"))
                == "inv: error: barcode 036000291453 has a wrong check digit: it should end in 2")
            expectSuccess(try mad.inv("product", "update", "MUG-06", "--no-barcodes"))
            #expect(try mad.inv("product", "show", "036000291452").status != 0)

            try "sku,name\nA,B\n".write(toFile: file, atomically: true, encoding: .utf8)
            #expect(expectOneLineError(try mad.inv("import", "products", file)) == "inv: error: \(file) line 1: the header must be sku,name,description,price,reorder_point,barcodes")
        }
    }
}

extension InvCLITests {
    /// `inv scan`: codes from standard input as a USB scanner types them, through a pipe and a pseudo-terminal.
    @Suite("Scanning: inv scan receive|sell|count|transfer")
    struct ScanTests {
        /// Runs `inv arguments` with `input` on its standard input: through a pipe, or through a pseudo-terminal
        /// (util-linux `script`, whose output is the terminal's: the typed lines echoed, CRLF line ends).
        static func scan(_ node: ClusterNode, _ cluster: Cluster, _ input: String, _ arguments: [String], terminal: Bool) throws -> InvResult {
            let file = cluster.root.file("scan-input.txt")
            try input.write(toFile: file, atomically: true, encoding: .utf8)
            let inv = try InvBinary.path()
            let command = ([inv] + arguments + ["--data", node.data]).map { "'\($0)'" }.joined(separator: " ")
            let shell = terminal ? "cat \"$0\" | exec script -qec \"$1\" /dev/null" : "cat \"$0\" | exec sh -c \"$1\""
            let child = try ChildProcess(executable: "/bin/sh", ["-c", shell, file, command], outputIn: cluster.root.path)
            guard child.wait(upTo: .seconds(30)) != nil else {
                child.stop(signal: SIGKILL)
                throw HarnessError("inv scan did not finish: \(child.result())")
            }
            return child.result()
        }

        @Test("through a pipe: silent until the document; CODE, CODE*N, N*CODE, undo, barcodes; an empty line commits")
        func pipe() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            try mad.start()
            expectSuccess(try mad.inv("product", "add", "TEA", "--name", "Green tea", "--barcode", "4006381333931"))
            expectSuccess(try mad.inv("product", "add", "MUG", "--name", "Mug"))
            let id = UUID().uuidString.lowercased()
            let received = try Self.scan(
                mad, cluster, "4006381333931\nTEA*3\n2*MUG\nundo\nMUG\n5*4006381333931\n\nTEA\n", ["scan", "receive", "--id", id], terminal: false)
            expectSuccess(received)
            let movements = try mad.json("document", "show", id)["lines"]?.array?.map { $0["movement"]?.string ?? "-" } ?? []
            try #require(movements.count == 2)
            #expect(received.lines == [
                "received 10 units of 2 products at MAD",
                "document \(id)",
                "SKU  QUANTITY  MOVEMENT",
                "---  --------  ------------------------------------",
                "TEA         9  \(movements[0])",
                "MUG         1  \(movements[1])",
            ])
            // The batch ended at the empty line: the TEA after it was not read.
            #expect(try mad.json("stock", "TEA").array?.first?["quantity"]?.int == 9)

            let refused = try Self.scan(mad, cluster, "TEA\nNOPE*2\n", ["scan", "sell"], terminal: false)
            #expect(expectOneLineError(refused) == "inv: error: scan 2 (NOPE): unknown sku NOPE")
            #expect(try mad.json("stock", "TEA").array?.first?["quantity"]?.int == 9)
            #expect(expectOneLineError(try Self.scan(mad, cluster, "\n", ["scan", "sell"], terminal: false))
                == "inv: error: nothing scanned: no document recorded")
            #expect(expectOneLineError(try Self.scan(mad, cluster, "TEA*x*2\n", ["scan", "sell"], terminal: false))
                == "inv: error: \"TEA*x*2\": write CODE, CODE*5 or 5*CODE")
            #expect(expectOneLineError(try mad.inv("scan", "transfer")) == "inv: error: inv scan transfer needs --to WAREHOUSE")

            let counted = try Self.scan(mad, cluster, "TEA*7\n", ["scan", "count"], terminal: false)
            expectSuccess(counted)
            #expect(counted.lines.first == "counted 1 product at MAD: 1 adjusted, 0 already right")
            #expect(try mad.json("stock", "TEA").array?.first?["quantity"]?.int == 7)
        }

        @Test("on a terminal: each line shown as read, an unknown code refused at once and the batch kept")
        func terminal() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            try mad.start()
            expectSuccess(try mad.inv("product", "add", "TEA", "--name", "Green tea", "--barcode", "4006381333931"))
            expectSuccess(try mad.inv("receive", "TEA", "10"))
            let sold = try Self.scan(mad, cluster, "4006381333931\nNOPE\n2*TEA\nundo\nTEA*2\n\n", ["scan", "sell"], terminal: true)
            #expect(sold.status == 0, "\(sold)")
            let lines = sold.stdout.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n").map(String.init)
            let shown = lines.filter { $0.hasPrefix("Green tea") || $0.hasPrefix("unknown") || $0.hasPrefix("undone") || $0.hasPrefix("sold") }
            #expect(shown == [
                "Green tea (TEA): 1",
                "unknown code NOPE (not added)",
                "Green tea (TEA): 3",
                "undone: 2 x TEA",
                "Green tea (TEA): 3",
                "sold 3 units of 1 product at MAD",
            ], "\(sold.stdout)")
            #expect(try mad.json("stock", "TEA").array?.first?["quantity"]?.int == 7)
        }
    }
}
