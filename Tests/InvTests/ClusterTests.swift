import Foundation
import Testing

extension InvCLITests {
    /// Three (or more) real nodes on 127.0.0.1, each an `inv serve` process: partitions are stopped servers, crashes are
    /// SIGKILLs, and healing is every node running with `inv sync` until the snapshots agree.
    ///
    /// Nested in the serialized ``InvCLITests``: several servers at once would skew the shutdown timings the other CLI
    /// tests measure on a two-core machine. Each test stays within that suite's five-minute limit.
    @Suite("Cluster: real nodes partitioned, killed and healed", .serialized)
    struct ClusterTests {
        static let movementTypes: Set<String> = ["receive", "sell", "adjust", "transfer", "accept"]

        // MARK: - 1. Conflicting offline work

        @Test("offline work on both sides of a partition converges: each movement once, LWW by (HLC, replica), conflicts listed")
        func conflictingOfflineWork() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            let bio = try cluster.join("BIO", via: mad)
            let all = [mad, sev, bio]
            for node in all { try node.start() }
            var book = MovementBook()

            for (sku, name) in [("W1", "Widget"), ("G2", "Gadget"), ("D3", "Doohickey")] {
                expectSuccess(try mad.inv("product", "add", sku, "--name", name))
            }
            try cluster.converge(all)
            try book.record(mad, "receive", "W1", "20")
            try book.record(mad, "receive", "G2", "10")
            try book.record(mad, "receive", "D3", "5")
            try book.record(sev, "receive", "W1", "8")
            try book.record(bio, "receive", "D3", "6")
            try cluster.converge(all)

            // Partition: SEV and BIO go dark; MAD works alone.
            sev.stop()
            bio.stop()
            try book.record(mad, "sell", "W1", "3")
            try book.record(mad, "receive", "G2", "5")
            let toSEV = try book.record(mad, "transfer", "W1", "4", "--to", "SEV")
            let toBIO = try book.record(mad, "transfer", "G2", "2", "--to", "BIO")
            expectSuccess(try mad.inv("product", "update", "W1", "--name", "Widget (MAD)"))
            let saleBeforeDelete = try book.record(mad, "sell", "G2", "1")
            try book.record(mad, "adjust", "D3", "-1", "--reason", "damaged")
            try Self.expectNoNegativeStock(mad)
            mad.stop()

            // SEV alone: sells and renames the same product, and deletes the one MAD sells.
            try sev.start()
            try book.record(sev, "sell", "W1", "2")
            expectSuccess(try sev.inv("product", "update", "W1", "--name", "Widget (SEV)"))
            // G2 is held at MAD: removing it needs --force.
            expectSuccess(try sev.inv("product", "remove", "G2", "--force"))
            #expect(expectOneLineError(try sev.inv("sell", "G2", "1")) == "inv: error: product G2 is deleted")
            try book.record(sev, "receive", "W1", "1")
            try book.record(sev, "adjust", "W1", "2", "--reason", "found")
            try Self.expectNoNegativeStock(sev)
            sev.stop()

            // MAD, still cut off from SEV, sells the product SEV has deleted meanwhile.
            try mad.start()
            let saleOnDeleted = try book.record(mad, "sell", "G2", "2")

            // Heal, then the goods in transit arrive (those of the deleted product too: no movement is ever dropped).
            try sev.start()
            try bio.start()
            try cluster.converge(all)
            for node in all { try Self.expectNoNegativeStock(node) }
            try book.accept(sev, transfer: toSEV)
            try book.accept(bio, transfer: toBIO, quantity: 1)
            let snapshot = try cluster.converge(all)

            // Every movement counted once, on every node.
            for node in all {
                let history = try node.history()
                let ids = history.compactMap { $0["id"]?.string }
                #expect(ids.count == history.count && Set(ids).count == ids.count, "\(node.warehouse): duplicate ids in \(history)")
                let movements = history.filter { Self.movementTypes.contains($0["type"]?.string ?? "") }
                #expect(
                    movements.count == book.entries.count, "\(node.warehouse): \(movements.count) movements, \(book.entries.count) made")
                #expect(Set(movements.compactMap { $0["id"]?.string }) == Set(book.entries.keys), "\(node.warehouse)")
                for row in movements {
                    guard let id = row["id"]?.string, let entry = book.entries[id] else { continue }
                    #expect(row.only(["type", "sku", "warehouse", "delta"]) == entry.json, "\(node.warehouse): \(row)")
                }
            }

            // The concurrent renames: the later (HLC, replica) wins — SEV's, made seconds after MAD's.
            let renames = try mad.history("--sku", "W1", "--type", "product.update")
            #expect(renames.map { $0["origin"] } == ["MAD", "SEV"], "\(renames)")
            let winner = try renames.max { try Self.order($0) < Self.order($1) }
            #expect(winner?["origin"] == "SEV", "\(renames)")
            let products = Dictionary(
                uniqueKeysWithValues: (snapshot["products"]?.array ?? []).compactMap { row in row["sku"]?.string.map { ($0, row) } })
            #expect(products["W1"]?["name"] == "Widget (SEV)", "\(snapshot)")
            #expect(products["G2"]?["deleted"] == true, "\(snapshot)")
            #expect(products["D3"]?["name"] == "Doohickey", "\(snapshot)")

            // Stock is never negative, and each SKU's stock plus what is in transit is what came in minus what went out.
            let stock = snapshot["stock"]?.array ?? []
            let inTransit = snapshot["in_transit"]?.array ?? []
            #expect(stock.allSatisfy { ($0["quantity"]?.int ?? -1) >= 0 }, "\(stock)")
            #expect(inTransit.map { $0.only(["id", "sku", "from", "to", "quantity"]) } == [
                ["id": .string(toBIO), "sku": "G2", "from": "MAD", "to": "BIO", "quantity": 1],
            ])
            for sku in ["W1", "G2", "D3"] {
                let held = stock.filter { $0["sku"] == .string(sku) }.compactMap { $0["quantity"]?.int }.reduce(0, +)
                let travelling = inTransit.filter { $0["sku"] == .string(sku) }.compactMap { $0["quantity"]?.int }.reduce(0, +)
                #expect(held + travelling == book.netInflow(sku), "\(sku): \(held) held + \(travelling) in transit; \(stock)")
            }
            #expect(stock.filter { $0["sku"] == "G2" }.allSatisfy { $0["product_deleted"] == true }, "\(stock)")
            for node in all {
                let rows = try node.json("stock", "--all").array ?? []
                #expect(!rows.isEmpty && rows.allSatisfy { ($0["quantity"]?.int ?? -1) >= 0 }, "\(node.warehouse): \(rows)")
                // `--all` adds one `in-transit` row per SKU with goods on the road.
                let keys: Set = ["sku", "warehouse", "quantity"]
                let warehouses = rows.filter { $0["warehouse"] != "in-transit" }.map { $0.only(keys) }
                #expect(warehouses == stock.map { $0.only(keys) }, "\(node.warehouse)")
                let travelling = rows.filter { $0["warehouse"] == "in-transit" }.map { $0.only(keys) }
                #expect(travelling == [["sku": "G2", "warehouse": "in-transit", "quantity": 1]], "\(node.warehouse)")
            }

            // Every node lists the concurrent rename, and the sale of the product deleted meanwhile.
            for node in all {
                let conflicts = try node.json("conflicts").array ?? []
                let rename = conflicts.filter { $0["kind"] == "concurrent_update" && $0["sku"] == "W1" && $0["field"] == "name" }
                #expect(rename.count == 1, "\(node.warehouse): \(conflicts)")
                if let rename = rename.first {
                    #expect(rename.only(["kept_origin", "overwritten_origin"]) == ["kept_origin": "SEV", "overwritten_origin": "MAD"])
                    #expect(Self.text(rename["kept"]) == "Widget (SEV)" && Self.text(rename["overwritten"]) == "Widget (MAD)", "\(rename)")
                }
                let sale = conflicts.filter { $0["kind"] == "movement_on_deleted_product" && $0["field"] == .string(saleOnDeleted) }
                #expect(sale.count == 1, "\(node.warehouse): \(conflicts)")
                #expect(
                    sale.first?.only(["sku", "kept_origin", "overwritten_origin"])
                        == ["sku": "G2", "kept_origin": "MAD", "overwritten_origin": "SEV"])
                // The sale MAD made before SEV's delete (by HLC) is just as concurrent with it: neither had seen the
                // other, which the delete's causal context tells.
                #expect(conflicts.contains { $0["kind"] == "movement_on_deleted_product" && $0["field"] == .string(saleBeforeDelete) },
                        "\(node.warehouse): \(conflicts)")
            }
        }

        /// Every row of `inv stock --all` is at least 0.
        static func expectNoNegativeStock(_ node: ClusterNode, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let rows = try node.json("stock", "--all").array ?? []
            #expect(rows.allSatisfy { ($0["quantity"]?.int ?? -1) >= 0 }, "\(node.warehouse): \(rows)", sourceLocation: sourceLocation)
        }

        /// A history row's LWW position: its timestamp (milliseconds), then its origin.
        static func order(_ row: JSON) throws -> Pair {
            guard let text = row["timestamp"]?.string, let origin = row["origin"]?.string else {
                throw HarnessError("no timestamp in \(row)")
            }
            let date = try Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            return Pair(time: date.timeIntervalSince1970, origin: origin)
        }

        struct Pair: Comparable {
            var time: Double
            var origin: String
            static func < (a: Pair, b: Pair) -> Bool { (a.time, a.origin) < (b.time, b.origin) }
        }

        /// A conflict's value as text: conflicts show values JSON-encoded (`"\"Tea\""`) — accept the bare text too.
        static func text(_ value: JSON?) -> String? {
            guard let raw = value?.string else { return nil }
            return (try? JSON.parse(raw))?.string ?? raw
        }

        // MARK: - 2. A random schedule against a sequential model

        @Test("a seeded random schedule with partitions ends, on every node, equal to a model of the acknowledged operations")
        func randomSchedule() throws {
            let seed = SplitMix64.testSeed()
            var random = SplitMix64(seed: seed)
            let replay = "seed \(seed) (replay: INV_TEST_SEED=\(seed) swift test --filter ClusterTests/randomSchedule)"
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            let bio = try cluster.join("BIO", via: mad)
            let all = [mad, sev, bio]
            for node in all { try node.start() }
            let skus = ["S1", "S2", "S3", "S4"]
            for sku in skus { expectSuccess(try mad.inv("product", "add", sku, "--name", "Product \(sku)")) }
            try cluster.converge(all)

            var model = StockModel(productOperations: ["MAD": skus.count])
            var down: Set<String> = []
            var attempted = 0
            var rounds = 0
            var partitions = 0
            var uncertain: [String: PlannedOperation] = [:]
            let started = ContinuousClock.now
            // Bounded by counts, not by time: a seed replays the same schedule on any machine, slow or fast.
            while attempted < 360 && rounds < 1_500 {
                rounds += 1
                // About one partition change every 25 rounds: stop a node (at least one keeps running), or restart one.
                if Int.random(in: 0..<25, using: &random) == 0 {
                    if down.count < 2 && Bool.random(using: &random) || down.isEmpty {
                        let victim = all.filter { !down.contains($0.warehouse) }.randomElement(using: &random)!
                        victim.beginStop()
                        down.insert(victim.warehouse)
                        partitions += 1
                    } else {
                        let back = all.filter { down.contains($0.warehouse) }.randomElement(using: &random)!
                        try back.start()
                        down.remove(back.warehouse)
                    }
                }
                let running = all.filter { !down.contains($0.warehouse) }
                let problems = try model.runRound(at: running, warehouses: all.map(\.warehouse), skus: skus, using: &random)
                attempted += running.count
                for (op, problem, result) in problems {
                    Issue.record("\(replay), round \(rounds): \(problem)\n\(result)")
                    uncertain[op.id] = op
                }
            }
            let elapsed = ContinuousClock.now - started
            print("""
                ClusterTests.randomSchedule: \(replay): \(attempted) operations (\(model.acknowledged.count) acknowledged, \
                \(model.refusedForStock) refused for stock, \(model.refusedNotArrived) accepts before arrival) in \(rounds) rounds, \
                \(partitions) partitions, \(elapsed)
                """)
            #expect(attempted >= 300, "\(replay): only \(attempted) operations in \(elapsed)")

            // Heal.
            for node in all where down.contains(node.warehouse) { try node.start() }
            let snapshot = try cluster.converge(all)

            // Operations whose outcome the client never learned: count them if (and only if) the ledger holds them.
            if !uncertain.isEmpty {
                let held = Set(try mad.history().compactMap { $0["id"]?.string })
                for (id, op) in uncertain where held.contains(id) { model.applyUnacknowledged(op) }
            }

            // Every node (they are equal) holds exactly the model.
            try model.expectHeld(by: all, snapshot: snapshot, replay: replay)
        }

        /// Movement ids with their quantities.
        static func quantities(_ rows: [JSON]) -> [String: Int64] {
            Dictionary(rows.compactMap { row in row["id"]?.string.map { ($0, row["quantity"]?.int ?? 0) } }) { first, _ in first }
        }

        static func nonZeroStock(_ snapshot: JSON) -> [String: Int64] {
            var stock: [String: Int64] = [:]
            for row in snapshot["stock"]?.array ?? [] {
                guard let sku = row["sku"]?.string, let warehouse = row["warehouse"]?.string, let quantity = row["quantity"]?.int
                else { continue }
                if quantity != 0 { stock["\(sku)@\(warehouse)"] = quantity }
            }
            return stock
        }

        // MARK: - 3. SIGKILL during a write burst and during a sync

        @Test("SIGKILL during a write burst and during a large pull: the node restarts, converges and keeps every acknowledged write")
        func killDuringBurstAndSync() async throws {
            let seed = SplitMix64.testSeed()
            var random = SplitMix64(seed: seed)
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            let bio = try cluster.join("BIO", via: mad)
            let all = [mad, sev, bio]
            for node in all { try node.start() }
            expectSuccess(try mad.inv("product", "add", "BURST", "--name", "Burst"))
            expectSuccess(try mad.inv("product", "add", "BACKLOG", "--name", "Backlog"))
            try cluster.converge(all)

            // A write burst at BIO from six concurrent clients; BIO is SIGKILLed with writes in flight.
            var acknowledged: [String: Int64] = [:]
            var unknown: [String: Int64] = [:]
            var inFlight: [(child: ChildProcess, id: String, quantity: Int64)] = []
            var completed = 0
            let burstDeadline = ContinuousClock.now + .seconds(60)
            func finish(_ entry: (child: ChildProcess, id: String, quantity: Int64), killed: Bool) {
                let result = entry.child.result()
                if result.status == 0 {
                    acknowledged[entry.id] = entry.quantity
                } else {
                    if !killed { Issue.record("seed \(seed): a receive failed before the kill: \(result)") }
                    unknown[entry.id] = entry.quantity
                }
                try? FileManager.default.removeItem(atPath: entry.child.stdoutPath)
                try? FileManager.default.removeItem(atPath: entry.child.stderrPath)
            }
            for _ in 0..<100_000 where completed < 40 && ContinuousClock.now < burstDeadline {
                while inFlight.count < 6 {
                    let id = random.uuid()
                    let quantity = Int64.random(in: 1...9, using: &random)
                    let child = try ChildProcess(
                        inv: ["receive", "BURST", "\(quantity)", "--id", id, "--json", "--data", bio.data], outputIn: cluster.root.path)
                    inFlight.append((child, id, quantity))
                }
                if let index = inFlight.firstIndex(where: { !$0.child.process.isRunning }) {
                    finish(inFlight.remove(at: index), killed: false)
                    completed += 1
                } else {
                    usleep(2_000)
                }
            }
            bio.crash()
            for entry in inFlight {
                if entry.child.wait(upTo: .seconds(30)) == nil { entry.child.stop(signal: SIGKILL) }
                finish(entry, killed: true)
            }
            #expect(acknowledged.count >= 30, "seed \(seed): \(acknowledged.count) acknowledged before the kill")
            print("ClusterTests.killDuringBurstAndSync: seed \(seed): \(acknowledged.count) acknowledged, \(unknown.count) cut off")

            // Restarted, BIO still holds every acknowledged write, and its stock is exactly what its ledger says.
            try bio.start()
            let burstHistory = try bio.history("--sku", "BURST", "--type", "receive")
            let held = Self.quantities(burstHistory)
            #expect(held.count == burstHistory.count, "a movement listed twice: \(burstHistory)")
            for (id, quantity) in acknowledged {
                #expect(held[id] == quantity, "seed \(seed): acknowledged receive \(id) of \(quantity) lost by the kill")
            }
            #expect(Set(held.keys).isSubset(of: Set(acknowledged.keys).union(unknown.keys)), "\(burstHistory)")
            let burstStock = try bio.json("stock", "BURST").array?.first?["quantity"]?.int
            #expect(burstStock == held.values.reduce(0, +), "BIO's stock of BURST disagrees with its own ledger")

            // A large backlog at MAD while BIO is down, written through MAD's write queue by 32 local submitters.
            var backlog: [String: Int64] = [:]
            var caughtMidPull = false
            for attempt in 1...2 where !caughtMidPull {
                bio.stop()
                // More than one sync page (50,000 operations), so a kill can land between two page merges; each attempt
                // doubles the backlog, in case the last one synced too fast to catch.
                let batch = (0..<(60_000 << (attempt - 1))).map { _ in (random.uuid(), Int64.random(in: 1...5, using: &random)) }
                let writing = ContinuousClock.now
                try await Self.submitReceipts(batch, sku: "BACKLOG", to: mad)
                let written = ContinuousClock.now - writing
                for (id, quantity) in batch { backlog[id] = quantity }
                let target = try mad.json("status")["version_vector"]?["MAD"]?.int ?? 0
                let before = target - Int64(batch.count)

                // Start BIO and SIGKILL it as soon as it holds part, not all, of the backlog.
                try bio.start()
                let deadline = ContinuousClock.now + .seconds(60)
                var seen = before
                for _ in 0..<2_000 where ContinuousClock.now < deadline {
                    seen = try Self.heldFromMAD(bio)
                    if seen > before && seen < target {
                        caughtMidPull = true
                        break
                    }
                    if seen >= target { break }
                }
                bio.crash()
                print("""
                    ClusterTests.killDuringBurstAndSync: backlog attempt \(attempt): \(batch.count) receipts written in \(written); \
                    killed BIO holding MAD:\(seen) of \(target) (had \(before))
                    """)
                try bio.start()
                let after = try Self.heldFromMAD(bio)
                #expect(after >= seen, "BIO lost merged operations to the kill: held MAD:\(seen), after restart MAD:\(after)")
            }
            #expect(caughtMidPull, "seed \(seed): no kill landed during the pull (the backlog synced too fast to catch)")

            // Healed: every node holds every acknowledged write.
            let snapshot = try cluster.converge(all, timeout: .seconds(120))
            for node in all {
                let receipts = try ["BURST", "BACKLOG"].flatMap { try node.history("--sku", $0, "--type", "receive") }
                let ids = Self.quantities(receipts)
                #expect(ids.count == receipts.count, "\(node.warehouse): a movement listed twice")
                let missingBurst = acknowledged.filter { ids[$0.key] != $0.value }
                let missingBacklog = backlog.filter { ids[$0.key] != $0.value }
                #expect(
                    missingBurst.isEmpty && missingBacklog.isEmpty,
                    "seed \(seed): \(node.warehouse) lacks \(missingBurst.count) burst and \(missingBacklog.count) backlog writes")
            }
            let stock = Self.nonZeroStock(snapshot)
            #expect(stock["BACKLOG@MAD"] == backlog.values.reduce(0, +))
            #expect(stock["BURST@BIO"] == burstStock)
        }

        /// How much of MAD's ledger `node` holds: its version vector's MAD entry, from `inv status`.
        static func heldFromMAD(_ node: ClusterNode) throws -> Int64 {
            let result = try node.run(["status", "--json", "--data", node.data], timeout: .seconds(10))
            guard result.status == 0 else { throw HarnessError("\(node.warehouse): \(result)") }
            return try JSON.parse(result.stdout)["version_vector"]?["MAD"]?.int ?? 0
        }

        /// Receipts written through a served node's own ZMQ write queue (its `ipc://` endpoint), as a local process may:
        /// far faster than one `inv receive` each, and acknowledged only after the writer committed them.
        static func submitReceipts(_ receipts: [(id: String, quantity: Int64)], sku: String, to node: ClusterNode) async throws {
            try await submitReceipts(receipts, sku: sku, toData: node.data, of: node.warehouse)
        }

        /// ``submitReceipts(_:sku:to:)`` by the node's data directory, for a task that must not hold the node.
        static func submitReceipts(
            _ receipts: [(id: String, quantity: Int64)], sku: String, toData data: String, of warehouse: String
        ) async throws {
            let burst = try ReceiptBurst(receipts, sku: sku, toData: data, of: warehouse)
            if let failure = await burst.finish().failure { throw HarnessError("\(warehouse): \(failure)") }
        }

        // MARK: - 4. A node of another cluster

        @Test("a node certified by another cluster's CA cannot sync: `inv peer add` fails both ways and nothing crosses")
        func strangerIsRefused() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            // A separate `inv init`: its own CA. It even claims a name the cluster does not know yet.
            let elsewhere = try Cluster()
            defer { elsewhere.cleanup() }
            let stranger = try elsewhere.found("BIO")
            for node in [mad, sev, stranger] { try node.start() }

            expectSuccess(try mad.inv("product", "add", "SKU-1", "--name", "Widget"))
            try book(mad, "receive", "SKU-1", "10")
            expectSuccess(try stranger.inv("product", "add", "EVIL-1", "--name", "Counterfeit"))
            try book(stranger, "receive", "EVIL-1", "99")
            let before = try cluster.converge([mad, sev])

            // MAD dials the stranger: the stranger's certificate is not from MAD's cluster CA.
            let outward = try mad.inv("peer", "add", stranger.peerURL)
            let outwardLine = expectOneLineError(outward)
            #expect(outwardLine.hasPrefix("inv: error: cannot reach a cluster peer at \(stranger.peerURL): "), "\(outward)")
            #expect(Self.mentionsCertificate(outwardLine), "the reason should name the certificate: \(outwardLine)")
            // The stranger dials MAD: MAD's certificate is not from the stranger's CA (and MAD would refuse its client certificate).
            let inward = try stranger.inv("peer", "add", mad.peerURL)
            let inwardLine = expectOneLineError(inward)
            #expect(inwardLine.hasPrefix("inv: error: cannot reach a cluster peer at \(mad.peerURL): "), "\(inward)")
            #expect(Self.mentionsCertificate(inwardLine), "the reason should name the certificate: \(inwardLine)")

            // Syncs change nothing on either side; neither lists the other as a member.
            for _ in 0..<2 {
                expectSuccess(try mad.inv("sync"))
                #expect(try stranger.inv("sync").lines == ["no peers"])
            }
            #expect(try cluster.converge([mad, sev]) == before)
            #expect(Set(try mad.members().keys) == ["MAD", "SEV"])
            #expect(Set(try sev.members().keys) == ["MAD", "SEV"])
            #expect(Set(try stranger.members().keys) == ["BIO"])
            let strangerSnapshot = try stranger.snapshot()
            #expect(strangerSnapshot["version_vector"] == ["BIO": 2], "\(strangerSnapshot)")
            #expect(strangerSnapshot["products"]?.array?.compactMap { $0["sku"]?.string } == ["EVIL-1"])
            #expect(try mad.json("stock", "--all").array?.map { $0.only(["sku", "warehouse", "quantity"]) } == [
                ["sku": "SKU-1", "warehouse": "MAD", "quantity": 10],
            ])
            #expect(try mad.history().allSatisfy { $0["origin"] != "BIO" })
        }

        static func mentionsCertificate(_ line: String) -> Bool {
            let lower = line.lowercased()
            return lower.contains("certificate") || lower.contains("tls") || lower.contains("ssl") || lower.contains("handshake")
        }

        // MARK: - 5. Joining late, and retiring

        @Test("a node joining through one peer receives the whole history; once retired on every member, its later writes are merged nowhere")
        func joinThenRetire() throws {
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            let sev = try cluster.join("SEV", via: mad)
            for node in [mad, sev] { try node.start() }

            // History on MAD and SEV before BIO exists.
            expectSuccess(try mad.inv("product", "add", "A", "--name", "Apple"))
            expectSuccess(try mad.inv("product", "add", "B", "--name", "Banana"))
            try cluster.converge([mad, sev])
            try book(mad, "receive", "A", "30")
            try book(sev, "receive", "B", "12")
            let shipped = try book(mad, "transfer", "A", "5", "--to", "SEV")
            try cluster.converge([mad, sev])
            try book(sev, "accept", shipped)
            try book(sev, "sell", "B", "2")
            expectSuccess(try sev.inv("product", "update", "B", "--name", "Banana (ripe)"))
            try cluster.converge([mad, sev])

            // BIO joins through MAD only, and learns SEV through MAD's membership.
            let bio = try cluster.join("BIO", via: mad)
            try bio.start()
            let all = [mad, sev, bio]
            try cluster.converge(all)
            let histories = try all.map { try $0.history() }
            #expect(histories.map(\.count) == [histories[0].count, histories[0].count, histories[0].count], "\(histories.map(\.count))")
            #expect(Set(histories[2].compactMap { $0["id"]?.string }) == Set(histories[0].compactMap { $0["id"]?.string }))
            #expect(histories[0].count == 8, "2 products, 5 movements and 1 rename: \(histories[0])")
            #expect(try bio.members()["SEV"]?["retired"] == false, "BIO learnt SEV through MAD")
            let early = try book(bio, "receive", "A", "3")
            try cluster.converge(all)

            // MAD, which holds the cluster CA key, retires BIO; SEV takes the retirement from MAD's hello because the
            // CA signed it (a member's word alone retires no one).
            let retired = try mad.inv("peer", "remove", "BIO")
            expectSuccess(retired)
            #expect(retired.lines == ["retired BIO"])
            #expect(try mad.members()["BIO"]?["retired"] == true)
            try MembershipOutputTests.syncUntil(mad) { try sev.members()["BIO"]?["retired"] == true }
            // Syncing does not undo it: BIO's own announcements never re-admit it.
            _ = try mad.inv("sync")
            _ = try sev.inv("sync")
            #expect(try sev.members()["BIO"]?["retired"] == true)

            // BIO keeps working alone; nothing it writes now reaches MAD or SEV. After each write MAD and SEV each
            // run a whole round with every peer (`inv sync` waits for it), besides their background rounds.
            var late: [String] = []
            // Once a peer has refused it as retired, BIO refuses local writes itself (it may write a few before).
            for _ in 0..<6 {
                let attempt = try bio.inv("receive", "A", "4", "--json")
                if attempt.status != 0 {
                    #expect(attempt.stderr.contains("this warehouse was retired on "), "\(attempt)")
                    break
                }
                late.append(try JSON.parse(attempt.stdout)["id"]?.string ?? "")
                _ = try mad.inv("sync")
                _ = try sev.inv("sync")
            }
            // Then whole rounds from every side, BIO's own pushes included: a count of rounds, not a time.
            for _ in 0..<4 {
                _ = try mad.inv("sync")
                _ = try sev.inv("sync")
                _ = try bio.inv("sync")
            }
            let refused = try bio.inv("sync", "--json")
            #expect(refused.status == 2, "BIO's peers should refuse it: \(refused)")
            for node in [mad, sev] {
                let ids = Set(try node.history().compactMap { $0["id"]?.string })
                #expect(ids.contains(early), "\(node.warehouse) lost BIO's history from before its retirement")
                #expect(
                    ids.isDisjoint(with: late),
                    "\(node.warehouse) merged \(ids.intersection(late).count) of \(late.count) writes BIO made after its retirement")
                #expect(try node.members()["BIO"]?["retired"] == true)
            }
            #expect(Set(try bio.history().compactMap { $0["id"]?.string }).isSuperset(of: late), "BIO keeps its own writes")
        }

        /// Records a movement that must succeed and returns its id.
        @discardableResult
        func book(_ node: ClusterNode, _ arguments: String...) throws -> String {
            let row = try node.json(arguments)
            guard let id = row["id"]?.string else { throw HarnessError("no movement id in \(row)") }
            return id
        }
    }

}

// MARK: - Test-side bookkeeping

/// The movements a test made (by id), with their effect on stock.
struct MovementBook {
    struct Entry {
        var type: String
        var sku: String
        var warehouse: String
        var delta: Int64

        var json: JSON { ["type": .string(type), "sku": .string(sku), "warehouse": .string(warehouse), "delta": .int(delta)] }
    }

    private(set) var entries: [String: Entry] = [:]

    /// Runs `inv TYPE SKU ARGS --json` on `node`, which must succeed, and records it.
    @discardableResult
    mutating func record(_ node: ClusterNode, _ type: String, _ sku: String, _ arguments: String...) throws -> String {
        try keep(node.json([type, sku] + arguments), at: node)
    }

    /// Accepts a transfer (all of it, or `quantity`) at `node`.
    @discardableResult
    mutating func accept(_ node: ClusterNode, transfer: String, quantity: Int64? = nil) throws -> String {
        try keep(node.json(["accept", transfer] + (quantity.map { ["--quantity", "\($0)"] } ?? [])), at: node)
    }

    private mutating func keep(_ row: JSON, at node: ClusterNode) throws -> String {
        guard let id = row["id"]?.string, let type = row["type"]?.string, let sku = row["sku"]?.string, let delta = row["delta"]?.int,
              row["warehouse"] == .string(node.warehouse)
        else { throw HarnessError("unexpected movement from \(node.warehouse): \(row)") }
        #expect(entries[id] == nil, "movement id \(id) returned twice")
        entries[id] = Entry(type: type, sku: sku, warehouse: node.warehouse, delta: delta)
        return id
    }

    /// What came into the company minus what left it: receipts − sales ± adjustments (transfers only move goods).
    func netInflow(_ sku: String) -> Int64 {
        entries.values.filter { $0.sku == sku && ["receive", "sell", "adjust"].contains($0.type) }.map(\.delta).reduce(0, +)
    }
}

/// One operation the random schedule sends to a node, with a movement id drawn from the seed.
struct PlannedOperation {
    enum Kind {
        case receive, sell, transfer(to: String), accept(transfer: String, quantity: Int64?)
    }

    var kind: Kind
    var warehouse: String
    var sku: String
    var quantity: Int64
    var id: String

    var arguments: [String] {
        switch kind {
        case .receive: ["receive", sku, "\(quantity)", "--id", id]
        case .sell: ["sell", sku, "\(quantity)", "--id", id]
        case .transfer(let to): ["transfer", sku, "\(quantity)", "--to", to, "--id", id]
        case .accept(let transfer, let quantity): ["accept", transfer, "--id", id] + (quantity.map { ["--quantity", "\($0)"] } ?? [])
        }
    }
}

/// The sequential model of the random schedule: what each warehouse holds and what is on the road, from the
/// acknowledged operations alone.
///
/// A warehouse's stock changes only through its own node's operations, which run one at a time, so the model
/// knows exactly whether a sale or a shipment must be accepted or refused.
struct StockModel {
    struct Shipment {
        var sku: String
        var from: String
        var to: String
        var shipped: Int64
        var accepted: Int64
        var inTransit: Int64 { shipped - accepted }
    }

    private(set) var stock: [String: [String: Int64]] = [:]  // warehouse → sku → quantity
    private(set) var shipments: [String: Shipment] = [:]
    private(set) var shipmentOrder: [String] = []
    private(set) var acknowledged: [String: PlannedOperation] = [:]
    private var operationsByOrigin: [String: Int64]
    /// Refusals the model expected: sales and shipments beyond the stock, acceptances of shipments not yet arrived.
    private(set) var refusedForStock = 0
    private(set) var refusedNotArrived = 0

    init(productOperations: [String: Int]) {
        operationsByOrigin = productOperations.mapValues(Int64.init)
    }

    func onHand(_ warehouse: String, _ sku: String) -> Int64 { stock[warehouse]?[sku] ?? 0 }

    /// Draws the next operation for `warehouse`: receive, sell, ship or accept.
    mutating func plan(at warehouse: String, others: [String], skus: [String], using random: inout SplitMix64) -> PlannedOperation {
        let id = random.uuid()
        let sku = skus.randomElement(using: &random)!
        let incoming = shipmentOrder.filter { shipments[$0]!.to == warehouse && shipments[$0]!.inTransit > 0 }
        let roll = Int.random(in: 0..<100, using: &random)
        if roll < 20, let transfer = incoming.randomElement(using: &random) {
            let shipment = shipments[transfer]!
            let quantity: Int64? = Bool.random(using: &random) ? nil : Int64.random(in: 1...shipment.inTransit, using: &random)
            return PlannedOperation(
                kind: .accept(transfer: transfer, quantity: quantity), warehouse: warehouse, sku: shipment.sku,
                quantity: quantity ?? shipment.inTransit, id: id)
        }
        if roll < 45 {
            let to = others.filter { $0 != warehouse }.randomElement(using: &random)!
            let quantity = Int64.random(in: 1...8, using: &random)
            return PlannedOperation(kind: .transfer(to: to), warehouse: warehouse, sku: sku, quantity: quantity, id: id)
        }
        if roll < 72 {
            return PlannedOperation(kind: .sell, warehouse: warehouse, sku: sku, quantity: Int64.random(in: 1...10, using: &random), id: id)
        }
        return PlannedOperation(kind: .receive, warehouse: warehouse, sku: sku, quantity: Int64.random(in: 1...20, using: &random), id: id)
    }

    /// Applies an operation's outcome. Returns a description of anything the model did not allow (the operation is
    /// then left out, as uncertain).
    mutating func apply(_ op: PlannedOperation, _ result: InvResult) -> String? {
        let line = result.stderrLines.first ?? ""
        let onHand = onHand(op.warehouse, op.sku)
        if result.status != 0 {
            switch op.kind {
            case .sell, .transfer:
                let expected = "inv: error: not enough stock of \(op.sku) in \(op.warehouse): \(onHand) on hand"
                if line.hasPrefix(expected) && onHand < op.quantity {
                    refusedForStock += 1
                    return nil
                }
                return "\(op.arguments) at \(op.warehouse) refused with \(onHand) on hand"
            case .accept(let transfer, _):
                // The shipment has not reached the destination yet.
                if line == "inv: error: unknown transfer \(transfer)" {
                    refusedNotArrived += 1
                    return nil
                }
                return "\(op.arguments) at \(op.warehouse) refused (in transit: \(shipments[transfer]?.inTransit ?? -1))"
            case .receive:
                return "\(op.arguments) at \(op.warehouse) refused"
            }
        }
        guard let row = try? JSON.parse(result.stdout), row["id"] == .string(op.id), row["warehouse"] == .string(op.warehouse),
              row["quantity"]?.int == op.quantity
        else { return "\(op.arguments) at \(op.warehouse) answered something else" }
        switch op.kind {
        case .sell, .transfer:
            if onHand < op.quantity { return "\(op.arguments) at \(op.warehouse) accepted with only \(onHand) on hand" }
        case .accept(let transfer, _):
            if (shipments[transfer]?.inTransit ?? 0) < op.quantity { return "\(op.arguments) accepted more than is in transit" }
        case .receive:
            break
        }
        applyUnacknowledged(op)
        return nil
    }

    /// Counts an operation as done.
    mutating func applyUnacknowledged(_ op: PlannedOperation) {
        acknowledged[op.id] = op
        operationsByOrigin[op.warehouse, default: 0] += 1
        switch op.kind {
        case .receive: stock[op.warehouse, default: [:]][op.sku, default: 0] += op.quantity
        case .sell: stock[op.warehouse, default: [:]][op.sku, default: 0] -= op.quantity
        case .transfer(let to):
            stock[op.warehouse, default: [:]][op.sku, default: 0] -= op.quantity
            shipments[op.id] = Shipment(sku: op.sku, from: op.warehouse, to: to, shipped: op.quantity, accepted: 0)
            shipmentOrder.append(op.id)
        case .accept(let transfer, _):
            stock[op.warehouse, default: [:]][op.sku, default: 0] += op.quantity
            shipments[transfer]?.accepted += op.quantity
        }
    }

    var nonZeroStock: [String: Int64] {
        var result: [String: Int64] = [:]
        for (warehouse, skus) in stock {
            for (sku, quantity) in skus where quantity != 0 { result["\(sku)@\(warehouse)"] = quantity }
        }
        return result
    }

    var inTransitRows: [JSON] {
        shipments.filter { $0.value.inTransit > 0 }.map { id, shipment in
            [
                "id": .string(id), "sku": .string(shipment.sku), "from": .string(shipment.from), "to": .string(shipment.to),
                "quantity": .int(shipment.inTransit), "shipped": .int(shipment.shipped), "accepted": .int(shipment.accepted),
            ]
        }
    }

    var versionVector: JSON { .object(operationsByOrigin.filter { $0.value > 0 }.mapValues { .int($0) }) }
}
