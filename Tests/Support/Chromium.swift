import Foundation

// What tests read through a real browser: the stats page as headless Chromium renders it.

/// What the stats page shows, read from a DOM: the node, the pid and each server's state.
public struct StatsPageDOM: Equatable, Sendable {
    public var node: String
    public var pid: Int
    /// server name -> `data-status` (`UP`, `MAINT`, `DRAIN`, `DOWN 1/2`...).
    public var servers: [String: String]
    /// server name -> CSS class of its row (`active_up`, `maintain`...).
    public var serverClasses: [String: String]

    public init(node: String, pid: Int, servers: [String: String], serverClasses: [String: String]) {
        self.node = node
        self.pid = pid
        self.servers = servers
        self.serverClasses = serverClasses
    }
}

/// Parses `chromium --dump-dom` output of a hadeck stats page (the `id`/`data-*` attributes it carries).
public func parseStatsDOM(_ html: String) -> StatsPageDOM? {
    func span(_ id: String) -> String? {
        guard let r = html.range(of: "<span id=\"\(id)\">") else { return nil }
        let rest = html[r.upperBound...]
        return rest.range(of: "</span>").map { String(rest[..<$0.lowerBound]) }
    }
    func attribute(_ name: String, in tag: Substring) -> String? {
        guard let r = tag.range(of: " \(name)=\"") else { return nil }
        let rest = tag[r.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }
    guard let node = span("node"), let pidText = span("pid"), let pid = Int(pidText) else { return nil }
    var servers: [String: String] = [:]
    var classes: [String: String] = [:]
    var rest = html[...]
    while let r = rest.range(of: "<tr ") {
        let after = rest[r.lowerBound...]
        guard let end = after.firstIndex(of: ">") else { break }
        let tag = after[..<end]
        if let server = attribute("data-server", in: tag), let status = attribute("data-status", in: tag) {
            servers[server] = status
            classes[server] = attribute("class", in: tag)?.split(separator: " ").first.map(String.init)
        }
        rest = after[end...]
    }
    return StatsPageDOM(node: node, pid: pid, servers: servers, serverClasses: classes)
}

/// The chromium binary, when installed.
public var chromiumPath: String? { which("chromium") ?? which("chromium-browser") }

/// Loads `url` in headless chromium and returns the page's node, pid and server states from its DOM.
/// Nil when chromium is missing or the page has no stats.
/// The stats page at `url` as headless Chromium renders it (`--dump-dom`), read by `parseStatsDOM`.
public func statsPageInChromium(_ url: String) async -> StatsPageDOM? {
    guard let chromium = chromiumPath else { return nil }
    let profile = NSTemporaryDirectory() + "hadeck-chromium-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: profile) }
    let html = try? await awaitProgram(
        [
            // nice: the browser is the test's client, and must not take the cores from the
            // programs under test.
            "nice", "-n", "10", chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--user-data-dir=\(profile)", "--dump-dom", url,
        ], timeout: 60)
    return html.flatMap { parseStatsDOM($0.stdout) }
}
