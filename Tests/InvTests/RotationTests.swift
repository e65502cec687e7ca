import Foundation
import Testing

extension InvCLITests {
    @Suite("Rotating credentials: tokens and the node certificate")
    struct RotationTests {
        /// `inv_<id>_<secret>` split into its id, or nil.
        static func tokenID(_ token: String) -> String? {
            token.wholeMatch(of: #/inv_([0-9a-f]{12})_[0-9a-f]{48}/#).map { String($0.1) }
        }

        @Test("token rotate: a new secret once, same id and role; the old secret is refused at once")
        func rotateStaffToken() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            try node.start()
            let created = try node.inv("token", "create", "--role", "staff", "--name", "till-9")
            let old = try #require(created.lines.first)
            let id = try #require(Self.tokenID(old), "\(created)")

            let rotated = try node.inv("token", "rotate", id)
            #expect(rotated.status == 0, "\(rotated)")
            #expect(rotated.lines.count == 1, "the new secret is one line on stdout: \(rotated)")
            let new = try #require(rotated.lines.first)
            #expect(Self.tokenID(new) == id)
            #expect(new != old)
            #expect(rotated.stderrLines == [
                "rotated staff token \(id) (till-9); the secret above is shown once; the old secret no longer works",
            ])

            let remote = { (token: String) in ["--node", node.url, "--ca", node.caFile, "--token", token] }
            #expect(expectOneLineError(try node.run(["stock"] + remote(old))) == "inv: error: missing or invalid bearer token")
            expectSuccess(try node.run(["stock"] + remote(new)))
            // Still staff: may not manage tokens.
            #expect(expectOneLineError(try node.run(["token", "list"] + remote(new))) == "inv: error: this needs an admin token; yours is staff")

            let listed = try #require(try JSON.parse(try node.inv("token", "list", "--json").stdout).array)
            let entry = try #require(listed.first { $0["id"] == .string(id) }, "\(listed)")
            #expect(entry.only(["name", "role", "revoked"]) == ["name": "till-9", "role": "staff", "revoked": false])
            #expect(entry["rotated_at"]?.string != nil)
            #expect(listed.allSatisfy { $0["token"] == nil })

            // --json answers the id, role and new secret; with a grace period the old secret keeps working.
            let json = try node.inv("token", "rotate", id, "--grace", "10m", "--json")
            #expect(json.status == 0 && json.stderr.isEmpty, "\(json)")
            let answer = try JSON.parse(json.stdout)
            #expect(answer["id"] == .string(id))
            #expect(answer["role"] == "staff")
            let third = try #require(answer["token"]?.string)
            #expect(Self.tokenID(third) == id)
            #expect(answer["previous_valid_until"]?.string != nil)
            expectSuccess(try node.run(["stock"] + remote(new)))
            expectSuccess(try node.run(["stock"] + remote(third)))

            #expect(expectOneLineError(try node.inv("token", "rotate", "000000000000")) == "inv: error: unknown token 000000000000")
            let badGrace = expectOneLineError(try node.inv("token", "rotate", id, "--grace", "10y"))
            #expect(badGrace.contains("--grace"), "\(badGrace)")
        }

        @Test("token rotate --grace: a bad value is one line saying what --grace takes, exit 64, and rotates nothing")
        func badGrace() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            try node.start()
            let created = try node.inv("token", "create", "--role", "staff", "--name", "till-9")
            let old = try #require(created.lines.first)
            let id = try #require(Self.tokenID(old), "\(created)")

            let tooLong = "inv: error: --grace must be at most 30 days (30d), got "
            let notADuration = "inv: error: --grace must be a whole number with a unit s, m, h or d (e.g. 90s, 10m, 2h, 1d), got "
            let cases: [(grace: String, error: String)] = [
                ("31d", tooLong + "31d"),
                ("721h", tooLong + "721h"),
                ("2592001", tooLong + "2592001"),
                ("99999999999999999999d", tooLong + "99999999999999999999d"),
                // A leading minus looks like an option to ArgumentParser; --grace still reads it and says what is wrong.
                ("-1m", "inv: error: --grace cannot be negative, got -1m"),
                ("abc", notADuration + "abc"),
                ("10y", notADuration + "10y"),
                ("1.5h", notADuration + "1.5h"),
                ("", notADuration + "nothing"),
            ]
            for (grace, error) in cases {
                let result = try node.inv("token", "rotate", id, "--grace", grace)
                #expect(expectOneLineError(result) == error, "--grace \(grace)")
                #expect(result.status == 64, "a usage error, like the other bad arguments: \(result)")
            }

            // Nothing was rotated; the limit itself is accepted.
            let remote = ["stock", "--node", node.url, "--ca", node.caFile, "--token", old]
            expectSuccess(try node.run(remote))
            let atLimit = try node.inv("token", "rotate", id, "--grace", "30d", "--json")
            #expect(atLimit.status == 0 && atLimit.stderr.isEmpty, "\(atLimit)")
            #expect(try JSON.parse(atLimit.stdout)["previous_valid_until"]?.string != nil, "\(atLimit)")
            expectSuccess(try node.run(remote))
        }

        @Test("token rotate of the data directory's admin token rewrites admin.token, so --data keeps working")
        func rotateAdminToken() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            try node.start()
            let old = try node.adminToken
            let id = try #require(Self.tokenID(old))

            let rotated = try node.inv("token", "rotate", id)
            #expect(rotated.status == 0, "\(rotated)")
            let new = try #require(rotated.lines.first)
            #expect(Self.tokenID(new) == id && new != old)
            #expect(rotated.stderrLines.last == "updated \(node.data)/admin.token with the new secret")
            #expect(try node.adminToken == new)
            #expect(try permissions(node.data + "/admin.token") == 0o600)
            // The CLI reads the new secret from the file; the old one is refused.
            expectSuccess(try node.inv("token", "list"))
            let remote = ["--node", node.url, "--ca", node.caFile, "--token", old]
            #expect(expectOneLineError(try node.run(["status"] + remote)) == "inv: error: missing or invalid bearer token")
        }

        @Test("cert rotate on a running node: new serial served at once, expiry in cert show and status")
        func rotateCertificate() throws {
            let node = try NodeFixture()
            defer { node.cleanup() }
            try node.start()
            let before = try JSON.parse(try node.inv("cert", "show", "--json").stdout)
            let oldSerial = try #require(before["node"]?["serial"]?.string)
            #expect(before["ca_key_present"] == true)
            let status = try JSON.parse(try node.inv("status", "--json").stdout)
            #expect(status["certificate"]?["serial"] == .string(oldSerial))
            #expect(status["certificate"]?["not_after"] == before["node"]?["not_after"])

            let rotated = try node.inv("cert", "rotate")
            #expect(rotated.status == 0 && rotated.stderr.isEmpty, "\(rotated)")
            #expect(rotated.lines.count == 2, "\(rotated)")
            #expect(rotated.lines.first?.hasPrefix("renewed the certificate of MAD: serial ") == true, "\(rotated)")
            #expect(rotated.lines.last?.hasPrefix("the running node serves it on new connections now") == true, "\(rotated)")

            let after = try JSON.parse(try node.inv("cert", "show", "--json").stdout)
            let newSerial = try #require(after["node"]?["serial"]?.string)
            #expect(newSerial != oldSerial)
            #expect(after["node"]?["hosts"] == before["node"]?["hosts"])
            let served = try JSON.parse(try node.inv("status", "--json").stdout)
            #expect(served["certificate"]?["serial"] == .string(newSerial))
            #expect(served["certificate"]?["reloads"] == 1)
            let human = try node.inv("status")
            #expect(human.lines.contains { $0.hasPrefix("certificate: serial \(newSerial), expires ") && $0.hasSuffix(" days left)") }, "\(human)")
        }

        @Test("cert issue on the CA node, cert install on a node without the CA key")
        func installCertificate() throws {
            let mad = try NodeFixture(warehouse: "MAD")
            defer { mad.cleanup() }
            let bundle = mad.root.file("sev-join.json")
            expectSuccess(try mad.inv("cert", "issue", "SEV", "--out", bundle))
            let sevData = mad.root.file("data-SEV")
            let port = try freeLocalPort()
            let joined = try mad.run(["init", "--data", sevData, "--warehouse", "SEV", "--listen", "127.0.0.1:\(port)", "--join", bundle])
            #expect(joined.status == 0, "\(joined)")

            let refused = try mad.run(["cert", "rotate", "--data", sevData])
            #expect(expectOneLineError(refused).contains("this node holds no cluster CA key"), "\(refused)")
            let before = try JSON.parse(try mad.run(["cert", "show", "--json", "--data", sevData]).stdout)
            #expect(before["ca_key_present"] == false)

            let renewal = mad.root.file("sev-renew.json")
            expectSuccess(try mad.inv("cert", "issue", "SEV", "--out", renewal))
            let installed = try mad.run(["cert", "install", renewal, "--data", sevData])
            #expect(installed.status == 0 && installed.stderr.isEmpty, "\(installed)")
            #expect(installed.lines == [
                installed.lines.first ?? "", "the node is not running; inv serve --data \(sevData) will use it",
            ])
            let after = try JSON.parse(try mad.run(["cert", "show", "--json", "--data", sevData]).stdout)
            #expect(after["node"]?["serial"] != before["node"]?["serial"])

            // A bundle for another warehouse is refused and changes nothing.
            let wrong = mad.root.file("bio.json")
            expectSuccess(try mad.inv("cert", "issue", "BIO", "--out", wrong))
            let mismatch = try mad.run(["cert", "install", wrong, "--data", sevData])
            #expect(expectOneLineError(mismatch) == "inv: error: the bundle is for warehouse BIO, but this node is SEV")
            #expect(try JSON.parse(try mad.run(["cert", "show", "--json", "--data", sevData]).stdout) == after)
        }
    }
}
