import BalancerCore
import HadeckBase
import NIOCore
import NIOHTTP1

/// A response the balancer produces itself (stats page, CSV, metrics, admin redirect).
struct LocalResponse {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: String
    /// For the request record: why the balancer answered.
    var reason: String

    var statusCode: Int { Int(status.code) }

    /// The whole response on the wire, for an HTTP/1.1 (or 1.0) client; `close` adds
    /// `Connection: close`, an HTTP/1.0 client that keeps the connection gets `Connection: keep-alive`.
    func wire(http11: Bool, close: Bool, head: Bool, allocator: ByteBufferAllocator) -> ByteBuffer {
        let bytes = Array(body.utf8)
        var wire = allocator.buffer(capacity: bytes.count + 256)
        wire.writeString("HTTP/1.\(http11 ? 1 : 0) \(status.code) \(status.reasonPhrase)\r\n")
        for (name, value) in headers { wire.writeString("\(name): \(value)\r\n") }
        wire.writeString("Content-Length: \(bytes.count)\r\n")
        if close {
            wire.writeStaticString("Connection: close\r\n")
        } else if !http11 {
            wire.writeStaticString("Connection: keep-alive\r\n")
        }
        wire.writeStaticString("\r\n")
        if !head { wire.writeBytes(bytes) }
        return wire
    }
}

/// The stats page's HTTP side: which page a request asks for, and the admin form.
enum StatsPageHTTP {
    /// Answers a request for the stats page (`uri`, `uri;csv`, a POST of the admin form) or `/metrics`.
    static func respond(
        uri: String, method: String, body: ByteBuffer?, page: StatsPageConfig, host: BalancerAdministration,
        extraMetrics: () -> [MetricFamily]
    ) -> LocalResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Cache-Control", value: "no-cache")
        let path = uri.prefix { $0 != "?" }
        if !uri.hasPrefix(page.uri) && path == "/metrics" {
            headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
            let text = PrometheusText.render(HAProxyMetrics.families(host.statsSnapshot()) + extraMetrics())
            return LocalResponse(status: .ok, headers: headers, body: text, reason: "metrics served by the balancer")
        }
        let options = uri.dropFirst(page.uri.count).split(separator: ";").map(String.init)
        if method == "POST" {
            let code = page.admin ? adminPost(body: body, host: host) : "DENY"
            headers.add(name: "Content-Type", value: "text/plain")
            headers.add(name: "Location", value: page.uri + ";st=" + code)
            return LocalResponse(
                status: .seeOther, headers: headers, body: "", reason: "stats page admin action: \(code)")
        }
        let refresh = options.contains("norefresh") ? nil : page.refresh
        if let refresh { headers.add(name: "Refresh", value: String(max(1, refresh.micros / 1_000_000))) }
        if options.contains("csv") {
            headers.add(name: "Content-Type", value: "text/plain")
            return LocalResponse(
                status: .ok, headers: headers, body: ShowStat.csv(host.statsSnapshot()),
                reason: "stats CSV served by the balancer")
        }
        headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
        let status = options.first { $0.hasPrefix("st=") }.map { String($0.dropFirst(3)) }
        let html = StatsPageHTML.render(host.statsSnapshot(), page: page, status: status, refresh: refresh)
        return LocalResponse(status: .ok, headers: headers, body: html, reason: "stats page served by the balancer")
    }

    /// Applies the admin form (`s=webA&s=webB&action=maint&b=#2`) and returns the `st=` code.
    static func adminPost(body: ByteBuffer?, host: BalancerAdministration) -> String {
        let text = body.map { String(decoding: $0.readableBytesView, as: UTF8.self) } ?? ""
        var servers: [String] = []
        var action = ""
        var backendRef = ""
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = formDecode(parts[0])
            let value = parts.count > 1 ? formDecode(parts[1]) : ""
            switch key {
            case "s": servers.append(value)
            case "action": action = value
            case "b": backendRef = value
            default: break
            }
        }
        let proxies = host.statsSnapshot().proxies
        let proxy =
            backendRef.hasPrefix("#")
            ? proxies.first { String($0.iid) == backendRef.dropFirst() } : proxies.first { $0.name == backendRef }
        guard let backend = proxy?.backend else { return "ERRP" }
        let adminAction: AdminAction
        switch action {
        case "ready": adminAction = .state(.ready)
        case "drain": adminAction = .state(.drain)
        case "maint": adminAction = .state(.maint)
        default: return "ERRP"
        }
        if servers.isEmpty { return "NONE" }
        var done = 0
        for server in servers {
            let request = AdminRequest(
                backend: backend.name, server: server, action: adminAction, source: .statsPage, level: .admin,
                command: "POST action=\(action) s=\(server) b=\(backendRef)")
            if (try? host.apply(request)) != nil { done += 1 }
        }
        return done == servers.count ? "DONE" : (done == 0 ? "ERRP" : "PART")
    }

    /// Decodes `application/x-www-form-urlencoded` (`+` is a space, `%XX` a byte).
    static func formDecode(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "+") {
                bytes.append(32)
            } else if b == UInt8(ascii: "%"), it.count >= 2,
                let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
