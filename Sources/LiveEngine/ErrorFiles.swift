import BalancerCore
import Foundation
import NIOCore

/// An `errorfile`'s response as HAProxy 2.6 sends it: the file is an HTTP response, parsed once at
/// start; its status line goes out as written (`HTTP/1.0 503 ...` stays 1.0), its header names in
/// lowercase without the hop-by-hop ones, its body as it is. Without a `Content-Length` the
/// connection closes after it (with `connection: close` when the status line says HTTP/1.1).
///
/// HAProxy 2.6 uses it for what a request's processing answers (`http-request deny`, 500, 502,
/// 503, 504), the backend's file before the frontend's; the 400 and 408 its HTTP/1 layer sends
/// for a request it cannot read (or that does not come in time) keep HAProxy's own page.
struct ErrorFilePage: Equatable {
    var statusLine: String
    var status: Int
    var headers: [String]
    var body: [UInt8]
    var hasLength: Bool
    var http10: Bool

    /// Nil when `bytes` is not an HTTP/1.x response head followed by a blank line.
    init?(_ bytes: [UInt8]) {
        guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) ?? bytes.firstRange(of: Array("\n\n".utf8))
        else { return nil }
        let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
        // On scalars: a CRLF is one Character, which a split on "\n" would not cut.
        var lines = head.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map {
            String(String.UnicodeScalarView($0.last == "\r" ? $0.dropLast() : $0[...]))
        }
        let first = lines.removeFirst()
        let parts = first.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]), (100...599).contains(status)
        else { return nil }
        statusLine = first
        self.status = status
        http10 = parts[0] == "HTTP/1.0"
        headers = []
        hasLength = false
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if ["connection", "keep-alive", "proxy-connection"].contains(name) { continue }
            if name == "content-length" { hasLength = true }
            headers.append("\(name): \(value)")
        }
        body = Array(bytes[end.upperBound...])
    }

    /// The connection ends after this page whatever the client asked (no length to delimit it).
    var closes: Bool { !hasLength }

    func wire(close: Bool, allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: 64 + statusLine.utf8.count + body.count)
        out.writeString(statusLine)
        out.writeStaticString("\r\n")
        for line in headers {
            out.writeString(line)
            out.writeStaticString("\r\n")
        }
        if close && !http10 { out.writeStaticString("connection: close\r\n") }
        out.writeStaticString("\r\n")
        out.writeBytes(body)
        return out
    }
}

/// Every proxy's `errorfile` pages, by proxy name and status, read once when the balancer starts.
struct ErrorFiles {
    private(set) var pages: [String: [Int: ErrorFilePage]] = [:]

    var isEmpty: Bool { pages.isEmpty }

    /// Reads the files `config` names; a file that cannot be read or is not an HTTP response is an
    /// error, as HAProxy refuses to start on it.
    init(config: HAProxyConfig) throws(LiveEngineError) {
        var read: [String: ErrorFilePage] = [:]
        func load(_ proxy: String, _ files: [Int: String]) throws(LiveEngineError) {
            for (status, path) in files {
                let page: ErrorFilePage
                if let known = read[path] {
                    page = known
                } else {
                    guard let data = FileManager.default.contents(atPath: path) else {
                        throw .badErrorFile(path: path, reason: "error opening file")
                    }
                    guard let parsed = ErrorFilePage(Array(data)) else {
                        throw .badErrorFile(path: path, reason: "not a valid HTTP response")
                    }
                    page = parsed
                    read[path] = parsed
                }
                pages[proxy, default: [:]][status] = page
            }
        }
        for fe in config.frontends { try load(fe.name, fe.errorFiles) }
        for be in config.backends { try load(be.name, be.errorFiles) }
    }

    init() {}

    /// The page for `status`: the backend's, else the frontend's.
    func page(_ status: Int, backend: String?, frontend: String) -> ErrorFilePage? {
        if let backend, let page = pages[backend]?[status] { return page }
        return pages[frontend]?[status]
    }
}
