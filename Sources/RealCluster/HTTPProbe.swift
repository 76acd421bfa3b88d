import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP response as a probe client saw it.
public struct HTTPReply: Hashable, Sendable {
    public var status: Int
    public var headers: [HTTPHeader]
    public var body: String

    public func values(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// `name=value` of each Set-Cookie header.
    public var setCookies: [(name: String, value: String)] {
        values("set-cookie").compactMap { header in
            let pair = header.prefix { $0 != ";" }
            guard let eq = pair.firstIndex(of: "=") else { return nil }
            return (String(pair[..<eq]).trimmingCharacters(in: .whitespaces), String(pair[pair.index(after: eq)...]))
        }
    }
}

public struct HTTPHeader: Hashable, Sendable {
    public var name: String
    public var value: String
}

/// A browser's cookie jar, reduced to what the cluster uses: name -> value, replaced by Set-Cookie.
public struct CookieJar: Hashable, Sendable {
    public var cookies: [String: String] = [:]

    public init() {}

    public mutating func take(_ reply: HTTPReply) {
        for (name, value) in reply.setCookies { cookies[name] = value }
    }

    /// The Cookie header's value, or nil when the jar is empty.
    public var header: String? {
        cookies.isEmpty
            ? nil : cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
    }
}

/// A tiny HTTP/1.1 client (one request per connection), for probing a VIP from inside a network
/// namespace, e.g. the lab's client host.
public enum HTTPProbe {
    public static func get(
        host: String, port: Int, path: String, cookie: String? = nil, namespace: String? = nil,
        timeout: Duration = .seconds(2)
    ) throws(SocketError) -> HTTPReply {
        let fd = try Sockets.connectTCP(host: host, port: port, timeout: timeout, namespace: namespace)
        defer { close(fd) }
        var request = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUser-Agent: hadeck-probe\r\nConnection: close\r\n"
        if let cookie { request += "Cookie: \(cookie)\r\n" }
        request += "\r\n"
        try Sockets.send(fd, Array(request.utf8))
        let bytes = try Sockets.receive(fd, timeout: timeout)
        guard let reply = parse(String(decoding: bytes, as: UTF8.self)) else {
            throw SocketError("HTTP from \(host):\(port)", reason: "not an HTTP response")
        }
        return reply
    }

    static func parse(_ text: String) -> HTTPReply? {
        guard let end = text.range(of: "\r\n\r\n") else { return nil }
        let lines = text[..<end.lowerBound].components(separatedBy: "\r\n")
        let statusWords = lines.first?.split(separator: " ") ?? []
        guard statusWords.count >= 2, statusWords[0].hasPrefix("HTTP/"), let status = Int(statusWords[1]) else {
            return nil
        }
        let headers = lines.dropFirst().compactMap { line -> HTTPHeader? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return HTTPHeader(
                name: String(line[..<colon]),
                value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return HTTPReply(status: status, headers: headers, body: String(text[end.upperBound...]))
    }
}
