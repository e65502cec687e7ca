import Foundation

/// Network namespaces that give each node of a test its own network, so a cut between two nodes is a real one.
///
/// Namespace `n` (0-based) holds one address, `10.77.0.(n+1)/32` on its loopback, and a veth pair joins every two
/// namespaces, with a /32 route to the other end's address over it. Nothing forwards (a new namespace does not), so
/// two nodes talk only over the pair between them: a cut pair makes them unreachable to each other whatever the
/// other pairs do, and a line, or any other topology, is the set of pairs left up.
///
/// Needs root, as `ip netns` does (the tests run as root here and in CI). Names carry a random run id
/// (`inv-3fa9c1-4`), so namespaces a crashed run left behind never clash with the next run's. Use
/// `defer { network.cleanup() }` right after creating it (a ``Cluster`` made with it does this in its own cleanup,
/// after killing the servers): deleting a namespace deletes its end of every pair, and so the pairs.
final class NetworkNamespaces {
    /// The pair of veth interfaces between two namespaces, by their indices, the lower first.
    struct Link: Hashable, CustomStringConvertible {
        let low: Int
        let high: Int

        init(_ a: Int, _ b: Int) {
            precondition(a != b, "a link joins two namespaces")
            (low, high) = (min(a, b), max(a, b))
        }

        var description: String { "\(low + 1)-\(high + 1)" }
    }

    let names: [String]
    /// Links taken down, at one end or both, and not mended since.
    private(set) var cutLinks: Set<Link> = []
    private let scratch: TemporaryDirectory
    private var removed = false

    /// Creates `count` namespaces joined two by two (`count` × (`count` − 1) / 2 veth pairs, all up).
    ///
    /// - Throws: `HarnessError` when an `ip` command fails; what was made by then is removed first.
    init(count: Int) throws {
        precondition((2...250).contains(count))
        let run = String(UUID().uuidString.lowercased().prefix(6))
        names = (1...count).map { "inv-\(run)-\($0)" }
        scratch = try TemporaryDirectory()
        do {
            for index in names.indices {
                try ip("netns", "add", names[index])
                try ip("-n", names[index], "link", "set", "lo", "up")
                try ip("-n", names[index], "address", "add", "\(address(of: index))/32", "dev", "lo")
            }
            for low in names.indices {
                for high in names.indices where high > low {
                    try ip("link", "add", interface(in: low, to: high), "netns", names[low],
                           "type", "veth", "peer", "name", interface(in: high, to: low), "netns", names[high])
                    try raise(end: low, of: Link(low, high))
                    try raise(end: high, of: Link(low, high))
                }
            }
        } catch {
            cleanup()
            throw error
        }
    }

    deinit { cleanup() }

    var count: Int { names.count }
    var allLinks: Set<Link> {
        Set(names.indices.flatMap { low in names.indices.filter { $0 > low }.map { Link(low, $0) } })
    }

    /// The one address of namespace `index`, which its node listens on and its certificate names.
    func address(of index: Int) -> String { "10.77.0.\(index + 1)" }

    /// The name, inside namespace `index`, of its end of the pair to `other`.
    func interface(in index: Int, to other: Int) -> String { "to\(other + 1)" }

    /// Takes both ends of `link` down: each side's route to the other goes with its interface, so a connection
    /// either side opens fails at once (network unreachable), and connections already open hear nothing more.
    func cut(_ link: Link) throws {
        try ip("-n", names[link.low], "link", "set", interface(in: link.low, to: link.high), "down")
        try ip("-n", names[link.high], "link", "set", interface(in: link.high, to: link.low), "down")
        cutLinks.insert(link)
    }

    /// Takes only `index`'s end of `link` down, like a cable pulled at that end: `index` finds the other side
    /// unreachable at once, while the other side keeps its route over an interface without carrier, so what it
    /// sends is silently lost and its connections time out.
    func cut(_ link: Link, downAt index: Int) throws {
        precondition(index == link.low || index == link.high)
        let other = index == link.low ? link.high : link.low
        try ip("-n", names[index], "link", "set", interface(in: index, to: other), "down")
        cutLinks.insert(link)
    }

    /// Brings both ends of `link` up again, with their routes (taking an interface down removed its route).
    func mend(_ link: Link) throws {
        try raise(end: link.low, of: link)
        try raise(end: link.high, of: link)
        cutLinks.remove(link)
    }

    /// Cuts every link not in `kept` (and mends those in it that were cut).
    func keepOnly(_ kept: Set<Link>) throws {
        for link in allLinks.subtracting(kept).subtracting(cutLinks) { try cut(link) }
        for link in cutLinks.intersection(kept) { try mend(link) }
    }

    /// The links of a line through the namespaces in index order: each one reaches only its neighbours.
    var line: Set<Link> { Set(names.indices.dropLast().map { Link($0, $0 + 1) }) }

    /// Deletes every namespace (and so every veth pair); bounded, idempotent, and quiet about what is already gone.
    /// Processes still running in a namespace keep its network alive: stop them first.
    func cleanup() {
        guard !removed else { return }
        removed = true
        for name in names {
            _ = try? runProgram(Self.ipTool(), ["netns", "delete", name], in: scratch.path, timeout: .seconds(20))
        }
        scratch.cleanup()
    }

    private func raise(end index: Int, of link: Link) throws {
        let other = index == link.low ? link.high : link.low
        let device = interface(in: index, to: other)
        try ip("-n", names[index], "link", "set", device, "up")
        try ip("-n", names[index], "route", "replace", "\(address(of: other))/32", "dev", device, "src", address(of: index))
    }

    private func ip(_ arguments: String...) throws {
        let result = try runProgram(Self.ipTool(), arguments, in: scratch.path, timeout: .seconds(20))
        guard result.status == 0 else { throw HarnessError("ip \(arguments.joined(separator: " ")) failed: \(result.stderr)") }
    }

    /// The `ip` tool of iproute2.
    static func ipTool() throws -> String {
        let candidates = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw HarnessError("iproute2's ip not found in \(candidates)")
        }
        return path
    }
}
