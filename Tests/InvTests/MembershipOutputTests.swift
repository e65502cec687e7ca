import Foundation
import Testing

extension InvCLITests {
    /// Retirement and re-admission, alerts on setting a reorder point, and what a normal run logs: across real nodes.
    @Suite("Retirement, alerts and log levels across real nodes")
    struct MembershipOutputTests {
        /// Runs `inv sync` on `node` until `condition` holds (bounded by count and deadline).
        static func syncUntil(_ node: ClusterNode, _ condition: () throws -> Bool) throws {
            let deadline = ContinuousClock.now + .seconds(60)
            for _ in 0..<60 where ContinuousClock.now < deadline {
                if try condition() { return }
                _ = try node.inv("sync", timeout: .seconds(60))
            }
            if try condition() { return }
            throw HarnessError("\(node.warehouse): the condition did not hold after 60 syncs:\n\(node.serverLogs)")
        }

        @Test("retire with goods in transit needs --force, only where the CA key is; the retired node learns it; readmit")
        func retireAndReadmit() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            for member in [mad, sev] { try member.start() }
            expectSuccess(try mad.inv("product", "add", "CHAIR-01", "--name", "Chair"))
            expectSuccess(try mad.inv("receive", "CHAIR-01", "10"))
            let shipped = try mad.inv("transfer", "CHAIR-01", "5", "--to", "SEV")
            let transferID = try #require(shipped.lines.first, "\(shipped)")
            try cluster.converge([mad, sev])

            #expect(expectOneLineError(try mad.inv("peer", "remove", "SEV")) == "inv: error: SEV has 5 units in transit to or from it "
                + "(1 transfer); they would be stranded: retire it anyway with --force")
            let retired = try mad.inv("peer", "remove", "SEV", "--force")
            expectSuccess(retired)
            #expect(retired.lines == ["retired SEV"])
            let transfers = try mad.inv("transfers")
            expectSuccess(transfers)
            #expect(transfers.lines.last == "stranded: \(transferID) (5 x CHAIR-01, MAD to SEV; SEV is retired)", "\(transfers)")
            #expect(transfers.lines.allSatisfy { $0.count <= 100 }, "\(transfers)")

            // A member without the cluster CA key cannot retire anyone, and says where to do it.
            #expect(expectOneLineError(try sev.inv("peer", "remove", "MAD"))
                == "inv: error: this node lacks the cluster CA key: run `inv peer remove MAD` on the founding node")
            let decision = try #require(try mad.members()["SEV"]?["decision"])
            #expect(decision["retired"] == true && decision["issuer"] == "MAD" && decision["user"] == "admin", "\(decision)")

            // MAD refuses SEV's rounds now, but answers its hello with the retirement signed by the cluster CA: SEV
            // learns it and refuses local writes that no peer would take.
            let refusedSync = try sev.inv("sync")
            #expect(refusedSync.status != 0, "\(refusedSync)")
            let refusedWrite = try sev.inv("receive", "CHAIR-01", "1")
            #expect(refusedWrite.status != 0 && refusedWrite.stderr.contains("this warehouse was retired on "), "\(refusedWrite)")
            #expect(try sev.json("status")["retired_at"] != nil)

            // Adding it again is not re-admitting it.
            let added = expectOneLineError(try mad.inv("peer", "add", sev.peerURL))
            #expect(added.hasPrefix("inv: error: SEV was retired on ") && added.hasSuffix("; re-admit it with `inv peer readmit SEV`"), "\(added)")
            let readmitted = try mad.inv("peer", "readmit", "SEV")
            expectSuccess(readmitted)
            #expect(readmitted.lines == ["re-admitted SEV; members learn it at their next sync"])
            // MAD dials SEV again; its hello carries the re-admission, and SEV writes again.
            try Self.syncUntil(mad) { try sev.json("status")["retired_at"] == nil }
            expectSuccess(try sev.inv("accept", transferID))
            try cluster.converge([mad, sev])
            #expect(try mad.inv("transfers").lines == ["no transfers in transit"])
        }

        @Test("a warehouse retires itself with its own key; members learn it; history shows who decided what, where")
        func retireItself() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            for member in [mad, sev] { try member.start() }
            expectSuccess(try mad.inv("product", "add", "CHAIR-01", "--name", "Chair"))
            try cluster.converge([mad, sev])

            // SEV holds no CA key: it can retire itself, not another member.
            #expect(expectOneLineError(try sev.inv("peer", "remove", "MAD"))
                == "inv: error: this node lacks the cluster CA key: run `inv peer remove MAD` on the founding node")
            let retired = try sev.inv("peer", "remove", "SEV")
            expectSuccess(retired)
            #expect(retired.lines == ["retired SEV, this node: it refuses local writes now; members learn it at its next sync"])
            let refusedWrite = try sev.inv("receive", "CHAIR-01", "1")
            #expect(refusedWrite.status != 0 && refusedWrite.stderr.contains("this warehouse was retired on "), "\(refusedWrite)")
            // MAD takes it from SEV's hello (or its reply), checked against SEV's member certificate.
            try Self.syncUntil(mad) { try mad.members()["SEV"]?["retired"] == true }
            let decision = try #require(try mad.members()["SEV"]?["decision"])
            #expect(decision["signer"] == "warehouse" && decision["issuer"] == "SEV" && decision["user"] == "admin", "\(decision)")

            expectSuccess(try mad.inv("peer", "readmit", "SEV"))
            let history = try mad.inv("history", "--utc")
            expectSuccess(history)
            let sentences = history.lines.filter { $0.contains("warehouse SEV") }.map { $0.components(separatedBy: "  ").dropFirst().joined() }
            #expect(sentences == [
                "admin `admin` retired warehouse SEV itself (decided on SEV with its own key)",
                "admin `admin` re-admitted warehouse SEV (decided on MAD)",
            ], "\(history)")
            #expect(history.lines.allSatisfy { $0.count <= 100 }, "\(history)")
            // A SKU filter shows movements only; plain --json is unchanged; --membership adds the decisions.
            #expect(try mad.inv("history", "--sku", "CHAIR-01").lines.allSatisfy { !$0.contains("warehouse SEV") })
            #expect(try mad.history().count == 1)
            let both = try mad.json("history", "--membership")
            #expect(both["movements"]?.array?.count == 1)
            #expect(both["membership_decisions"]?.array?.compactMap { $0["signer"]?.string } == ["warehouse", "cluster_ca"])
        }

        @Test("setting a reorder point raises alerts where stock is low, the same on both nodes; --warehouse filters")
        func alertOnReorderPoint() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            for member in [mad, sev] { try member.start() }
            expectSuccess(try mad.inv("product", "add", "CHAIR-01", "--name", "Chair"))
            try cluster.converge([mad, sev])
            expectSuccess(try sev.inv("receive", "CHAIR-01", "3"))
            expectSuccess(try mad.inv("receive", "CHAIR-01", "40"))
            try cluster.converge([mad, sev])
            #expect(try mad.json("alerts") == [])

            expectSuccess(try mad.inv("product", "update", "CHAIR-01", "--reorder-point", "5"))
            let raised = try mad.json("alerts").array ?? []
            #expect(raised.map { $0.only(["warehouse", "quantity", "reorder_point"]) } == [
                ["warehouse": "SEV", "quantity": 3, "reorder_point": 5],
            ])
            try cluster.converge([mad, sev])
            #expect(try sev.json("alerts") == .array(raised), "the same alert, with the same time, on both nodes")
            let onlySEV = try mad.inv("alerts", "--warehouse", "SEV")
            expectSuccess(onlySEV)
            #expect(onlySEV.lines.count == 3 && onlySEV.lines[2].hasPrefix("CHAIR-01  SEV              3           5  "), "\(onlySEV)")
            #expect(try mad.inv("alerts", "--warehouse", "MAD").lines == ["no alerts at MAD"])

            // A product added with a reorder point and no stock here raises its alert at once.
            expectSuccess(try mad.inv("product", "add", "DESK-02", "--name", "Desk", "--reorder-point", "2"))
            #expect(try mad.json("alerts", "--warehouse", "MAD").array?.map { $0.only(["sku", "quantity"]) } == [["sku": "DESK-02", "quantity": 0]])
        }

        @Test("two products differing only by case, created apart, both stay after the merge and are reported")
        func caseClashInMerge() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            for member in [mad, sev] { try member.start() }
            try cluster.converge([mad, sev])
            for node in [mad, sev] { expectSuccess(try node.inv("sync", "--pause")) }
            expectSuccess(try mad.inv("product", "add", "chair-01", "--name", "Chair (MAD)"))
            expectSuccess(try sev.inv("product", "add", "CHAIR-01", "--name", "Chair (SEV)"))
            for node in [mad, sev] { expectSuccess(try node.inv("sync", "--resume")) }
            try cluster.converge([mad, sev])
            for node in [mad, sev] {
                #expect(try node.json("product", "list").array?.compactMap { $0["sku"]?.string } == ["CHAIR-01", "chair-01"])
                let conflicts = try node.json("conflicts").array ?? []
                #expect(conflicts.map { $0.only(["kind", "sku", "kept", "kept_origin", "overwritten", "overwritten_origin"]) } == [
                    ["kind": "sku_case", "sku": "CHAIR-01", "kept": "CHAIR-01", "kept_origin": "SEV", "overwritten": "chair-01",
                     "overwritten_origin": "MAD"],
                ], "\(node.warehouse): \(conflicts)")
                // Either case is now ambiguous: the look-up says so rather than guessing.
                #expect(expectOneLineError(try node.inv("stock", "Chair-01"))
                    == "inv: error: SKU Chair-01 matches CHAIR-01 and chair-01, which differ only by case; write it exactly")
            }
        }

        @Test("a normal multi-node run with concurrent writes logs no warning")
        func noWarnings() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            let bio = try cluster.join("BIO", via: mad)
            let nodes = [mad, sev, bio]
            for member in nodes { try member.start() }
            expectSuccess(try mad.inv("product", "add", "CHAIR-01", "--name", "Chair"))
            try cluster.converge(nodes)
            for round in 0..<5 {
                let jobs = nodes.flatMap { node in
                    (0..<4).map { _ in ["receive", "CHAIR-01", "\(round + 1)", "--data", node.data] }
                }
                for result in try runInvConcurrently(jobs, in: cluster.root.path) { expectSuccess(result) }
            }
            try cluster.converge(nodes)
            for node in nodes {
                let warnings = node.serverLogs.split(separator: "\n").filter { line in
                    let words = line.split(separator: " ")
                    return words.count > 1 && ["warning", "error", "critical"].contains(words[1])
                }
                #expect(warnings.isEmpty, "\(node.warehouse) logged:\n\(warnings.joined(separator: "\n"))")
            }
        }
    }
}
