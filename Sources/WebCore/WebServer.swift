import BalancerCore
import HadeckBase

/// A Tomcat-like application server: `/login` creates or resumes an HTTP session and
/// names it `JSESSIONID=<id>.<jvmRoute>`; sessions live only in this server's memory.
public struct WebServer: Sendable {
    public var name: String
    public var address: String
    public var jvmRoute: String
    /// Whether the process is running (a killed server refuses connections).
    public private(set) var running = true
    /// Session ids (with their route suffix) this server knows.
    public private(set) var sessions: Set<String> = []
    public private(set) var requestsServed = 0
    private var generator: SplitMix64

    public init(name: String, address: String, jvmRoute: String) {
        self.name = name
        self.address = address
        self.jvmRoute = jvmRoute
        self.generator = SplitMix64(seed: "session:\(name)")
    }

    /// The response to an HTTP request, as the app would send it.
    public struct Response: Sendable {
        public var status: Int
        /// The session the request ran in, e.g. `5F0C...9A.jvm3`.
        public var session: String
        /// True when this request created the session.
        public var newSession: Bool
        /// `Set-Cookie` header values.
        public var setCookies: [String]
    }

    /// Serves one request given the `Cookie` header the balancer forwarded.
    public mutating func handle(path: String, cookieHeader: String?) -> Response {
        requestsServed += 1
        let sent = cookieHeader.flatMap { header in
            parseCookieHeader(header).last(where: { $0.name == "JSESSIONID" })?.value
        }
        if let sent, sessions.contains(sent) {
            return Response(status: 200, session: sent, newSession: false, setCookies: [])
        }
        // Unknown id (e.g. made by another server): Tomcat starts a new session.
        let id = newSessionID() + "." + jvmRoute
        sessions.insert(id)
        return Response(status: 200, session: id, newSession: true, setCookies: ["JSESSIONID=\(id); Path=/; HttpOnly"])
    }

    /// The answer to a health check (`/health` or the configured check URI).
    public var healthStatus: Int { 200 }

    /// `kill`: the process dies and its sessions with it.
    public mutating func kill() {
        running = false
        sessions.removeAll()
    }

    /// Starts the process again (empty session store).
    public mutating func start() { running = true }

    private mutating func newSessionID() -> String {
        let hex = Array("0123456789ABCDEF")
        var out = ""
        for _ in 0..<2 {
            var v = generator.next()
            for _ in 0..<16 {
                out.append(hex[Int(v & 0xF)])
                v >>= 4
            }
        }
        return out
    }
}

/// A browser with a cookie jar that keeps requesting `/login` through the VIP.
public struct Browser: Sendable {
    public var name: String
    /// Client address, used by `balance source`.
    public var address: String
    /// Cookie jar: name -> value, in insertion order of names.
    public private(set) var jar: [(name: String, value: String)] = []
    /// Every distinct session id this browser has been given, in order.
    public private(set) var sessionHistory: [String] = []

    public init(name: String, address: String) {
        self.name = name
        self.address = address
    }

    /// The `Cookie` header this browser sends, or nil when its jar is empty. Kept with the jar, which
    /// changes only with a Set-Cookie, instead of built for every request (8 % of a simulated hour).
    public private(set) var cookieHeader: String?

    private static func header(of jar: [(name: String, value: String)]) -> String? {
        if jar.isEmpty { return nil }
        var header = ""
        for (i, pair) in jar.enumerated() {
            if i > 0 { header += "; " }
            header += pair.name
            header += "="
            header += pair.value
        }
        return header
    }

    public func cookie(_ name: String) -> String? { jar.first(where: { $0.name == name })?.value }

    public var session: String? { cookie("JSESSIONID") }

    /// Stores the cookies of a response.
    public mutating func receive(setCookies: [String]) {
        for header in setCookies {
            guard let pair = parseSetCookie(header) else { continue }
            let (name, value) = (pair.name, pair.value)
            if let i = jar.firstIndex(where: { $0.name == name }) {
                jar[i].value = value
            } else {
                jar.append((name, value))
            }
            if name == "JSESSIONID", sessionHistory.last != value { sessionHistory.append(value) }
        }
        if !setCookies.isEmpty { cookieHeader = Self.header(of: jar) }
    }
}
