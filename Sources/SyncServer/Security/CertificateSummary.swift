import Foundation
import SwiftASN1
import X509

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What an operator needs to know of a node certificate: whose it is, which one (serial), when it expires, and the
/// hosts it names. Shown by `inv cert show` and in `GET /v1/status`.
///
/// A reading only: it proves nothing about the certificate (see ``NodeCredentials`` for the checks).
public struct CertificateSummary: Codable, Equatable, Sendable {
    /// The warehouse named by the subject; `nil` if the subject names none.
    public var warehouse: String?
    /// The serial number, lowercase hex.
    public var serial: String
    /// The subject and issuer as RFC 4514 strings.
    public var subject: String
    public var issuer: String
    public var notBefore: Date
    public var notAfter: Date
    /// The subject alternative names, in certificate order: DNS names and IP addresses as text.
    public var hosts: [String]

    enum CodingKeys: String, CodingKey {
        case warehouse, serial, subject, issuer, hosts
        case notBefore = "not_before"
        case notAfter = "not_after"
    }

    public init(_ certificate: Certificate) {
        warehouse = ClusterCA.warehouse(of: certificate)
        serial = certificate.serialNumber.bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
        subject = certificate.subject.description
        issuer = certificate.issuer.description
        notBefore = certificate.notValidBefore
        notAfter = certificate.notValidAfter
        hosts = Self.hosts(of: certificate)
    }

    /// Whole days from `now` until ``notAfter`` (negative once expired).
    public func daysLeft(now: Date) -> Int {
        Int((notAfter.timeIntervalSince(now) / 86_400).rounded(.down))
    }

    /// The names peers may dial a certificate by; an undecodable extension counts as none.
    static func hosts(of certificate: Certificate) -> [String] {
        guard let names = try? certificate.extensions.subjectAlternativeNames else { return [] }
        return names.compactMap { name in
            switch name {
            case .dnsName(let host): host
            case .ipAddress(let octets): address(Array(octets.bytes))
            default: nil
            }
        }
    }

    private static func address(_ bytes: [UInt8]) -> String? {
        let family: Int32
        switch bytes.count {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return nil
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let ok = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil }
        return ok ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
