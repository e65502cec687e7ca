import Foundation
import Testing

extension InvCLITests {
    /// The alert webhook of a real `inv serve`, configured by `webhook_url` in `config.json` as an operator would,
    /// POSTing to a real HTTP receiver in this process.
    @Suite("alert webhook")
    struct WebhookTests {
        static let raisedKeys: Set<String> = ["state", "sku", "warehouse", "quantity", "reorder_point", "raised_at"]

        @Test("a raised alert is POSTed once, retried with backoff past two 503s; the cleared one follows it")
        func retriesUntilDelivered() throws {
            let receiver = try WebhookReceiver(answer: .unavailableFirst(2))
            defer { receiver.stop() }
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            try mad.setConfig("webhook_url", receiver.url)
            try mad.start()

            // The reorder point is set once stock is above it: setting it with no stock would raise an alert at once.
            expectSuccess(try mad.inv("product", "add", "SKU-1", "--name", "Widget"))
            expectSuccess(try mad.inv("receive", "SKU-1", "10"))
            expectSuccess(try mad.inv("product", "update", "SKU-1", "--reorder-point", "5"))
            expectSuccess(try mad.inv("sell", "SKU-1", "6"))  // 4 <= 5: raised
            // The webhook describes the alert as it was raised: its time is that of the sale that raised it.
            let raisedAt = try #require(try mad.json("alerts").array?.first?["raised_at"]?.string)
            expectSuccess(try mad.inv("sell", "SKU-1", "1"))  // 3: still raised, not raised again
            let alerts = try mad.json("alerts").array ?? []
            #expect(alerts.count == 1, "\(alerts)")
            // Above the point again, most likely while the raised alert is still being retried: it must not
            // overtake it.
            expectSuccess(try mad.inv("receive", "SKU-1", "10"))

            let requests = receiver.waitForRequests(4, within: .seconds(20))
            try #require(requests.count == 4, "expected 3 attempts for the raised alert and 1 for the cleared one: \(requests)\n\(mad.serverLogs)")
            for request in requests {
                #expect(request.method == "POST" && request.uri == "/hooks/inv", "\(request)")
                #expect(request.warehouse == "MAD", "\(request)")
                #expect(request.contentType == "application/json", "\(request)")
            }
            #expect(requests.map(\.status) == [503, 503, 200, 200])

            let raised: JSON = [
                "state": "raised", "sku": "SKU-1", "warehouse": "MAD", "quantity": 4, "reorder_point": 5,
                "raised_at": .string(raisedAt),
            ]
            for attempt in requests.prefix(3) {
                #expect(try JSON.parse(attempt.body) == raised)
            }
            #expect(try JSON.parse(requests[3].body) == ["state": "cleared", "sku": "SKU-1", "warehouse": "MAD"])

            // Exponential backoff from a first delay of 500 ms with jitter of ±50 %: at least 250 ms, then 500 ms.
            let waits = zip(requests.dropFirst(), requests).map { $0.arrival - $1.arrival }
            #expect(waits[0] >= .milliseconds(250), "\(waits)")
            #expect(waits[1] >= .milliseconds(500), "\(waits)")

            // Delivered means done: nothing is posted again. Alerts are delivered one at a time, in order, so a new
            // alert is the barrier: any repeat of the delivered ones would reach the receiver before it.
            #expect(try mad.json("alerts") == [])
            expectSuccess(try mad.inv("sell", "SKU-1", "9"))  // 13 - 9 = 4 <= 5: raised again
            let after = receiver.waitForRequests(5, within: .seconds(20))
            try #require(after.count >= 5, "the barrier alert never arrived: \(after)\n\(mad.serverLogs)")
            #expect(after.count == 5, "\(after)")
            #expect(after[4].status == 200, "\(after[4])")
            let barrier = try JSON.parse(after[4].body)
            #expect(barrier["state"] == "raised" && barrier["quantity"] == 4, "\(barrier)")
            #expect(mad.stop() == 0, "\(mad.serverLogs)")
        }

        /// A webhook that cannot take alerts, each in its own way.
        enum DeadEnd: String, CaseIterable, CustomTestStringConvertible {
            case nothingListens = "nothing listens"
            case failing = "answers 500"
            case silent = "accepts connections and never answers"

            var testDescription: String { rawValue }
        }

        @Test("writes are answered at once and all kept while the webhook fails", arguments: DeadEnd.allCases)
        func failingWebhookBlocksNoWrite(_ deadEnd: DeadEnd) throws {
            var receiver: WebhookReceiver?
            var silentSocket: ListeningSocket?
            defer {
                receiver?.stop()
                silentSocket?.release()
            }
            let url: String
            switch deadEnd {
            case .nothingListens:
                url = "http://127.0.0.1:\(try freeLocalPort())/hooks/inv"
            case .failing:
                receiver = try WebhookReceiver(answer: .always(500))
                url = try #require(receiver?.url)
            case .silent:
                let port = try freeLocalPort()
                silentSocket = try ListeningSocket(port: port)
                url = "http://127.0.0.1:\(port)/hooks/inv"
            }
            let cluster = try Cluster()
            defer { cluster.cleanup() }
            let mad = try cluster.found("MAD")
            try mad.setConfig("webhook_url", url)
            try mad.start()

            // The reorder point is set once stock is above it: setting it with no stock would raise an alert at once.
            expectSuccess(try mad.inv("product", "add", "SKU-1", "--name", "Widget"))
            expectSuccess(try mad.inv("receive", "SKU-1", "10"))
            expectSuccess(try mad.inv("product", "update", "SKU-1", "--reorder-point", "5"))
            // Down to 4 and back to 10, 25 times: each write raises or clears an alert the webhook cannot deliver.
            // A write that waited for a delivery would wait out the whole retry schedule (at least 30 s of backoff,
            // or 10 s per attempt at a silent webhook): past the 20 s deadline on each `inv` run, which then fails
            // the test at the first such write, so a webhook that does block cannot make it run for minutes.
            var ids: [String] = []
            for index in 0..<50 {
                let id = UUID().uuidString.lowercased()
                let result = try mad.inv(index.isMultiple(of: 2) ? "sell" : "receive", "SKU-1", "6", "--id", id, timeout: .seconds(20))
                expectSuccess(result)
                try #require(result.status == 0, "write \(index + 1) of 50: \(result)")
                ids.append(id)
            }

            let stock = try mad.json("stock", "SKU-1").array ?? []
            #expect(stock.map { $0.only(["sku", "warehouse", "quantity"]) } == [["sku": "SKU-1", "warehouse": "MAD", "quantity": 10]])
            #expect(try mad.json("alerts") == [])
            let history = try mad.history("--sku", "SKU-1", "--type", "receive,sell")
            #expect(history.count == 51)
            #expect(Set(ids).isSubset(of: Set(history.compactMap { $0["id"]?.string })), "a write is missing from the ledger")

            // The webhook did try, and failed: the node logs each failed attempt.
            waitUntil(.seconds(20)) { mad.serverLogs.contains("alert webhook") }
            let logs = mad.serverLogs
            switch deadEnd {
            case .nothingListens, .silent: #expect(logs.contains("alert webhook failed"), "\(logs)")
            case .failing:
                #expect(logs.contains("alert webhook answered 500"), "\(logs)")
                let requests = receiver?.requests ?? []
                #expect(!requests.isEmpty && requests.allSatisfy { $0.status == 500 }, "\(requests)")
            }

            // A delivery still being retried (or waiting on a silent receiver) does not hold up shutdown.
            #expect(mad.stop(grace: .seconds(5)) == 0, "inv serve still running 5 s after SIGTERM:\n\(mad.serverLogs)")
        }
    }
}
