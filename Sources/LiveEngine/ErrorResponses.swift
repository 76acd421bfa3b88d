import NIOCore
import NIOHTTP1

/// The responses HAProxy 2.6 builds itself (`http_err_msgs[]`), byte for byte: status line
/// reason, header names and order, and HTML body.
public enum HAProxyErrorResponse: Int, Sendable, CaseIterable {
    case badRequest = 400
    case requestTimeout = 408
    case badGateway = 502
    case serviceUnavailable = 503
    case gatewayTimeout = 504

    /// HAProxy's reason phrase, e.g. `Request Time-out`.
    public var reason: String {
        switch self {
        case .badRequest: "Bad request"
        case .requestTimeout: "Request Time-out"
        case .badGateway: "Bad Gateway"
        case .serviceUnavailable: "Service Unavailable"
        case .gatewayTimeout: "Gateway Time-out"
        }
    }

    /// The HTML body.
    public var body: String {
        let sentence: String
        switch self {
        case .badRequest: sentence = "Your browser sent an invalid request."
        case .requestTimeout: sentence = "Your browser didn't send a complete request in time."
        case .badGateway: sentence = "The server returned an invalid or incomplete response."
        case .serviceUnavailable: sentence = "No server is available to handle this request."
        case .gatewayTimeout: sentence = "The server didn't respond in time."
        }
        return "<html><body><h1>\(rawValue) \(reason)</h1>\n\(sentence)\n</body></html>\n"
    }

    /// The response head as HAProxy sends it (`Connection: close`: the connection ends after it).
    var head: HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.add(name: "Content-length", value: String(body.utf8.count))
        headers.add(name: "Cache-Control", value: "no-cache")
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Content-Type", value: "text/html")
        return HTTPResponseHead(
            version: .http1_1, status: .custom(code: UInt(rawValue), reasonPhrase: reason), headers: headers)
    }

    /// The whole response on the wire.
    public var wireText: String {
        var text = "HTTP/1.1 \(rawValue) \(reason)\r\n"
        for h in head.headers { text += "\(h.name): \(h.value)\r\n" }
        return text + "\r\n" + body
    }
}
