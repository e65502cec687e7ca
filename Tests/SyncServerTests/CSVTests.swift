import PropertyBased
@testable import SyncServer
import Testing

/// ``CSV``: RFC 4180 quoting, the OWASP formula rule, and the round trip export → read.
@Suite("CSV writing and reading")
struct CSVTests {
    @Test("text cells that start a formula (or with ') get a ' before them; numbers never do")
    func neutralisation() {
        #expect(CSV.line([.text("=1+2"), .text("+1"), .text("-1"), .text("@x"), .text("\tx"), .text("'x"), .text("a=b")]) == "'=1+2,'+1,'-1,'@x,'\tx,''x,a=b\n")
        #expect(CSV.line([.text("\rx")]) == "\"'\rx\"\n")
        #expect(CSV.line([.number(-3), .number(0), .number(12)]) == "-3,0,12\n")
        #expect(CSV.line([.text("=HYPERLINK(\"u\",\"x\")")]) == "\"'=HYPERLINK(\"\"u\"\",\"\"x\"\")\"\n")
        #expect(CSV.line([.text(""), .text("a,b"), .text("say \"hi\""), .text("two\nlines")]) == ",\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\"\n")
    }

    @Test("reading what was written gives the original cells back")
    func roundTripOfEdgeCases() {
        let rows: [[String]] = [
            ["=1+2", "+1", "-1", "@x", "\tx", "\rx", "'x", "''x", "'", "="],
            ["", "a,b", "say \"hi\"", "two\nlines", "cr\r\nlf", "\"", "é", "plain"],
            [""],
        ]
        let text = rows.map { CSV.line($0.map(CSV.Cell.text)) }.joined()
        #expect(CSV.read(text) == rows)
        #expect(CSV.read("a,b\r\nc,d\r\n") == [["a", "b"], ["c", "d"]])
        #expect(CSV.read("a,-3,12") == [["a", "-3", "12"]])
        #expect(CSV.read("") == [])
    }

    @Test("random text cells round-trip")
    func roundTripProperty() async {
        let alphabet: [Character] = ["=", "+", "-", "@", "\t", "\r", "\n", "'", "\"", ",", "a", "Z", "0", " ", "é", "\r\n"]
        let cell = Gen.int(in: 0...(alphabet.count - 1)).map { alphabet[$0] }.array(of: 0...8).map { String($0) }
        await propertyCheck(count: 2_000, input: cell.array(of: 1...5).array(of: 1...4)) { rows in
            let text = rows.map { CSV.line($0.map(CSV.Cell.text)) }.joined()
            #expect(CSV.read(text) == rows, "\(text.debugDescription)")
        }
    }
}
