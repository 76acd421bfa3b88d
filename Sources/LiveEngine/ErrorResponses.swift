import NIOCore

/// The responses HAProxy 2.6 builds itself (`http_err_msgs[]` in src/http.c), byte for byte: status
/// line reason, header names and order, and HTML body.
public enum HAProxyErrorResponse: Int, Sendable, CaseIterable {
    case badRequest = 400
    case unauthorized = 401
    case forbidden = 403
    case notFound = 404
    case methodNotAllowed = 405
    case proxyAuthenticationRequired = 407
    case requestTimeout = 408
    case gone = 410
    case payloadTooLarge = 413
    case misdirectedRequest = 421
    case unprocessableContent = 422
    case tooEarly = 425
    case tooManyRequests = 429
    case internalServerError = 500
    case notImplemented = 501
    case badGateway = 502
    case serviceUnavailable = 503
    case gatewayTimeout = 504

    /// HAProxy's reason phrase, e.g. `Request Time-out`.
    public var reason: String {
        switch self {
        case .badRequest: "Bad request"
        case .unauthorized: "Unauthorized"
        case .forbidden: "Forbidden"
        case .notFound: "Not Found"
        case .methodNotAllowed: "Method Not Allowed"
        case .proxyAuthenticationRequired: "Unauthorized"
        case .requestTimeout: "Request Time-out"
        case .gone: "Gone"
        case .payloadTooLarge: "Payload Too Large"
        case .misdirectedRequest: "Misdirected Request"
        case .unprocessableContent: "Unprocessable Content"
        case .tooEarly: "Too Early"
        case .tooManyRequests: "Too Many Requests"
        case .internalServerError: "Internal Server Error"
        case .notImplemented: "Not Implemented"
        case .badGateway: "Bad Gateway"
        case .serviceUnavailable: "Service Unavailable"
        case .gatewayTimeout: "Gateway Time-out"
        }
    }

    private var sentence: String {
        switch self {
        case .badRequest: "Your browser sent an invalid request."
        case .unauthorized, .proxyAuthenticationRequired: "You need a valid user and password to access this content."
        case .forbidden: "Request forbidden by administrative rules."
        case .notFound: "The resource could not be found."
        case .methodNotAllowed:
            "A request was made of a resource using a request method not supported by that resource"
        case .requestTimeout: "Your browser didn't send a complete request in time."
        case .gone: "The resource is no longer available and will not be available again."
        case .payloadTooLarge: "The request entity exceeds the maximum allowed."
        case .misdirectedRequest: "Request sent to a non-authoritative server."
        case .unprocessableContent: "The server cannot process the contained instructions."
        case .tooEarly: "Your browser sent early data."
        case .tooManyRequests: "You have sent too many requests in a given amount of time."
        case .internalServerError: "An internal server error occurred."
        case .notImplemented: ".The server does not support the functionality required to fulfill the request."
        case .badGateway: "The server returned an invalid or incomplete response."
        case .serviceUnavailable: "No server is available to handle this request."
        case .gatewayTimeout: "The server didn't respond in time."
        }
    }

    /// The HTML body.
    public var body: String { "<html><body><h1>\(rawValue) \(reason)</h1>\n\(sentence)\n</body></html>\n" }

    /// Whether the connection ends after this response: HAProxy's own 400 and 408 say
    /// `Connection: close`; hadeck also closes after its 502, 503 and 504 (HAProxy keeps the
    /// connection, see README).
    var closes: Bool {
        switch self {
        case .badRequest, .requestTimeout, .badGateway, .serviceUnavailable, .gatewayTimeout: true
        default: false
        }
    }

    /// The whole response on the wire, as HAProxy's HTTP/1 layer sends it when it refuses a request
    /// itself (`Content-length`, `Cache-Control`, then `Connection: close` where it closes).
    public var wireText: String {
        var text = "HTTP/1.1 \(rawValue) \(reason)\r\nContent-length: \(body.utf8.count)\r\nCache-Control: no-cache\r\n"
        if closes { text += "Connection: close\r\n" }
        return text + "Content-Type: text/html\r\n\r\n" + body
    }

    /// The error for a status `deny_status` or `errorfile` may name, if HAProxy has one.
    public init?(status: Int) { self.init(rawValue: status) }
}
