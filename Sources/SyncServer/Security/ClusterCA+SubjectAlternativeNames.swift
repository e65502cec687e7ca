import SwiftASN1
import X509

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension ClusterCA {
    /// The subject alternative names for `hosts`, in order, without duplicates: an `iPAddress` name for each host
    /// that parses as an IPv4 or IPv6 address (IPv6 optionally in brackets), a `dNSName` (lowercased) otherwise.
    ///
    /// - Throws: ``PKIError/invalidHost(_:)`` for a host that is neither: empty, non-ASCII, or holding characters
    ///   other than letters, digits, `-`, `.` and `*` (which also rules out IPv6 zone IDs such as `fe80::1%eth0`).
    static func subjectAlternativeNames(for hosts: [String]) throws -> [GeneralName] {
        var names: [GeneralName] = []
        for host in hosts {
            let name = try subjectAlternativeName(for: host)
            if !names.contains(name) { names.append(name) }
        }
        return names
    }

    private static func subjectAlternativeName(for host: String) throws -> GeneralName {
        var address = host
        if address.hasPrefix("["), address.hasSuffix("]"), address.count > 2 {
            address = String(address.dropFirst().dropLast())
        }
        if let bytes = ipAddressBytes(address) {
            return .ipAddress(ASN1OctetString(contentBytes: bytes[...]))
        }
        let isDNSName =
            !host.isEmpty && host.utf8.count <= 253
            && host.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "*"):
                    true
                default:
                    false
                }
            }
        guard isDNSName else { throw PKIError.invalidHost(host) }
        return .dnsName(host.lowercased())
    }

    /// The 4 or 16 network-order bytes of an IPv4 or IPv6 address in text form, or `nil` if it is not one.
    private static func ipAddressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
