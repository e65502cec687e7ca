import PropertyBased
import Store
import Testing

@Suite("Barcodes: GS1 check digits")
struct BarcodeTests {
    @Test("known codes", arguments: [
        ("4006381333931", true), ("4006381333932", false), ("73513537", true), ("73513538", false),
        ("036000291452", true), ("036000291453", false), ("5901234123457", true), ("96385074", true),
        ("", false), ("400638133393", false), ("40063813339311", false), ("400638133393a", false), ("+006381333931", false),
    ])
    func known(code: String, valid: Bool) {
        #expect(Barcode.isValid(code) == valid)
    }

    /// Any payload with its computed check digit is a valid code of its length, and changing any one digit of it
    /// (the check digit included) makes it invalid.
    @Test func everySingleWrongDigitIsRefused() async {
        let digits12 = Gen.int(in: 0...9).array(of: 12...12)
        await propertyCheck(count: 500, input: digits12, Gen.int(in: 0...2), Gen.int(in: 0...12), Gen.int(in: 1...9)) { all, kind, position, change in
            let payload = Array(all.prefix([7, 11, 12][kind]))
            let digits = payload + [Barcode.checkDigit(payload)]
            let code = digits.map(String.init).joined()
            #expect(Barcode.isValid(code), "\(code)")
            #expect((try? Barcode(code))?.kind.rawValue == ["EAN-8", "UPC-A", "EAN-13"][[8, 12, 13].firstIndex(of: digits.count)!])
            var wrong = digits
            let index = position % digits.count
            wrong[index] = (wrong[index] + change) % 10
            #expect(!Barcode.isValid(wrong.map(String.init).joined()), "\(code) with digit \(index) changed")
        }
    }
}
