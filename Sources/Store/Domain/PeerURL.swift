import Foundation

/// The address of a node's peer-sync listener: exactly `https://HOST:PORT`.
///
/// Every place that takes a member's URL (`POST /v1/peers`, membership announced by a peer, the writer's member
/// records) accepts this form only: a URL with a path, query, fragment or user, another scheme, no port or port 0
/// is refused, so that no member record can hold something a node would dial other than a peer listener.
public enum PeerURL {
    /// The longest URL taken (a host name of 253 characters, a port and the scheme fit).
    public static let maxLength = 300

    /// Whether `text` is `https://HOST:PORT` with a non-empty host (a name, an IPv4 address or a bracketed IPv6
    /// address) and a port in 1...65535, and nothing else.
    public static func isValid(_ text: String) -> Bool {
        guard text.utf8.count <= maxLength, text.hasPrefix("https://"), text.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 }),
              let components = URLComponents(string: text), components.scheme == "https",
              let host = components.host, !host.isEmpty, let port = components.port, (1...65_535).contains(port),
              components.path.isEmpty, components.query == nil, components.fragment == nil,
              components.user == nil, components.password == nil
        else { return false }
        return true
    }

    /// The message for a refused URL.
    public static func refusal(_ text: String) -> String {
        "a peer URL must be https://HOST:PORT (nothing after the port), not \(text.prefix(100))"
    }
}
