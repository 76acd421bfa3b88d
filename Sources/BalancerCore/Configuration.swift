import HadeckBase

// The balancer's configuration model: what a parsed haproxy.cfg becomes.
// Defaults are HAProxy 2.6's (include/haproxy/defaults.h and the configuration manual).

/// A host and port, as written on a `bind` or `server` line.
public struct HostPort: Hashable, Sendable, CustomStringConvertible, Codable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { "\(host):\(port)" }

    /// `IP:PORT`, with a dotted-quad IPv4 address and a port from 1 to 65535; nil otherwise.
    public init?(ipv4 text: some StringProtocol) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port), let ip = IPv4Address(text[..<colon])
        else { return nil }
        self.init(host: ip.description, port: port)
    }

    /// The host as an IPv4 address, when it is one.
    public var ipv4: IPv4Address? { IPv4Address(host) }
}

/// `mode http|tcp`.
public enum ProxyMode: String, Hashable, Sendable { case http, tcp }

/// `balance ALGORITHM`.
public enum BalanceAlgorithm: String, Hashable, Sendable, CaseIterable {
    case roundrobin
    case staticRR = "static-rr"
    case leastconn
    case source
    case first
}

/// `cookie NAME insert|prefix|rewrite [options]`.
public struct CookieConfig: Hashable, Sendable {
    public enum Mode: String, Hashable, Sendable { case insert, prefix, rewrite }

    public var name: String
    public var mode: Mode
    public var indirect = false
    public var nocache = false
    public var preserve = false
    public var httponly = false
    public var secure = false
    public var postonly = false
    public var domains: [String] = []
    public var maxidle: TimeSpan? = nil
    public var maxlife: TimeSpan? = nil

    public init(name: String, mode: Mode) {
        self.name = name
        self.mode = mode
    }
}

/// `option httpchk` and the `http-check` lines that refine it.
public struct HTTPCheckConfig: Hashable, Sendable {
    public var method = "OPTIONS"
    public var uri = "/"
    public var version = "HTTP/1.0"
    /// `http-check expect status N`: the only status that passes. `nil`: any 2xx or 3xx passes.
    public var expectStatus: Int? = nil
    /// `http-check expect status 200-299,304`: the statuses that pass (when set, instead of `expectStatus`).
    public var expectStatusRanges: [ClosedRange<Int>] = []
    /// `http-check disable-on-404`: a 404 puts an UP server in NOLB instead of failing the check.
    public var disableOn404 = false

    public init() {}

    /// Whether a check answered with `status` passes.
    public func passes(status: Int) -> Bool {
        if !expectStatusRanges.isEmpty { return expectStatusRanges.contains { $0.contains(status) } }
        return expectStatus.map { $0 == status } ?? (200...399).contains(status)
    }
}

/// How a `server` line wrote its address, when it is not a plain `IP:PORT`.
public enum ServerAddressForm: Hashable, Sendable {
    /// `IP:PORT`.
    case ip
    /// `NAME:PORT`: resolved once at start-up, as HAProxy does by default (`init-addr last,libc,none`).
    case hostname(String)
    /// No port: HAProxy connects to the port the client connected to.
    case clientPort
    /// `IP:+N` / `IP:-N`: the client's port plus an offset.
    case portOffset(Int)
    /// `unix@PATH` or a path starting with `/`.
    case unixSocket(String)
    /// `abns@NAME`: a Linux abstract socket.
    case abstractSocket(String)
}

/// A `log` target: `log ADDRESS [len N] [format F] FACILITY [LEVEL [MINLEVEL]]`.
public struct LogTarget: Hashable, Sendable {
    /// `/dev/log`, `127.0.0.1:514`, `stdout`, `ring@name`, ...
    public var address: String
    public var facility: String
    public var level: String? = nil
    public var minimumLevel: String? = nil
    public var line = 0

    public init(address: String, facility: String) {
        self.address = address
        self.facility = facility
    }
}

/// How a proxy logs its traffic: HAProxy logs nothing without a `log` line.
public struct LoggingConfig: Hashable, Sendable {
    public enum Format: Hashable, Sendable {
        /// No `option httplog`/`tcplog`/`log-format`: HAProxy's short default format.
        case standard
        case tcplog
        case httplog
        /// `option httplog clf`.
        case httplogCLF
        case httpslog
        case custom(LogFormat)
    }

    /// Where lines go (a proxy's `log global` already expanded to the global targets).
    public var targets: [LogTarget] = []
    public var format = Format.standard
    /// `option dontlognull`: no line for a connection that sent nothing.
    public var dontLogNull = false

    public init() {}

    /// HAProxy writes a line per request or connection only when the proxy has a log target.
    public var enabled: Bool { !targets.isEmpty }
}

/// `stats auth USER:PASSWORD`.
public struct StatsCredential: Hashable, Sendable {
    public var user: String
    public var password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }
}

/// Administrative state set by configuration, the runtime API or the dashboard.
public enum AdminState: String, Hashable, Sendable, Codable {
    case ready, drain, maint
}

/// A `server` line.
public struct ServerConfig: Hashable, Sendable {
    public var name: String
    public var address: HostPort
    /// `check`: health-check this server. Without it the server is always available (`no check`).
    public var check = false
    public var inter = TimeSpan.milliseconds(2000)
    /// `fastinter`; `nil` means "same as inter".
    public var fastinter: TimeSpan? = nil
    /// `downinter`; `nil` means "same as inter".
    public var downinter: TimeSpan? = nil
    public var rise = 2
    public var fall = 3
    /// 0...256, default 1.
    public var weight = 1
    public var backup = false
    /// `cookie VALUE`: the value the persistence cookie carries for this server.
    public var cookie: String? = nil
    public var slowstart: TimeSpan? = nil
    /// `maxconn N`; 0 means unlimited. Requests beyond it wait in the queue (`timeout queue`).
    public var maxconn = 0
    /// `maxqueue N`: how many requests may wait for this server; 0 means unlimited.
    public var maxqueue = 0
    /// `port N` / `check port N`: the port health checks connect to (the server's port when nil).
    public var checkPort: Int? = nil
    /// `addr A` / `check addr A`: the address health checks connect to (the server's when nil).
    public var checkAddress: String? = nil
    /// How the address was written; `address` holds what the embedded cluster connects to.
    public var addressForm = ServerAddressForm.ip
    /// `disabled`: starts in MAINT (admin bit 0x04, "maint from config").
    public var disabled = false
    /// Source location of the `server` line, for messages.
    public var line = 0

    public init(name: String, address: HostPort) {
        self.name = name
        self.address = address
    }

    /// The address and port health checks connect to.
    public var checkTarget: HostPort {
        HostPort(host: checkAddress ?? address.host, port: checkPort ?? address.port)
    }

    public var effectiveFastinter: TimeSpan { fastinter ?? inter }
    public var effectiveDowninter: TimeSpan { downinter ?? inter }
}

/// The `timeout` values that a proxy can carry. `nil`: not set.
public struct Timeouts: Hashable, Sendable {
    public var connect: TimeSpan? = nil
    public var client: TimeSpan? = nil
    public var server: TimeSpan? = nil
    public var check: TimeSpan? = nil
    public var httpRequest: TimeSpan? = nil
    /// How long an idle keep-alive connection waits for its next request (`timeout http-keep-alive`;
    /// HAProxy falls back to `http-request`).
    public var httpKeepAlive: TimeSpan? = nil
    public var queue: TimeSpan? = nil

    public init() {}
}

/// `stats enable|uri|refresh|realm|admin` in a frontend, listen or backend section.
public struct StatsPageConfig: Hashable, Sendable {
    public var enabled = false
    /// Default `/haproxy?stats`, as in HAProxy.
    public var uri = "/haproxy?stats"
    public var refresh: TimeSpan? = nil
    public var realm: String? = nil
    /// `stats admin if TRUE` (any condition is accepted and treated as true).
    public var admin = false
    /// `stats auth USER:PASSWORD`: with any, the page answers 401 with `WWW-Authenticate` to other requests.
    public var credentials: [StatsCredential] = []
    /// `stats hide-version`: the page does not show HAProxy's version.
    public var hideVersion = false

    public init() {}
}

/// A backend (or the backend half of a `listen` section).
public struct BackendConfig: Hashable, Sendable {
    public var name: String
    public var mode = ProxyMode.http
    public var balance = BalanceAlgorithm.roundrobin
    public var cookie: CookieConfig? = nil
    /// `option httpchk`; `nil` means TCP connect checks (L4).
    public var httpCheck: HTTPCheckConfig? = nil
    public var redispatch = false
    public var persist = false
    public var allbackups = false
    public var forwardfor = false
    public var httpKeepAlive = true
    /// `retries`, default 3.
    public var retries = 3
    public var timeouts = Timeouts()
    public var stats = StatsPageConfig()
    public var servers: [ServerConfig] = []
    /// The backend's own `acl`, `http-request`, `redirect` and `http-response` rules.
    public var rules = ProxyRules()
    /// `errorfile CODE FILE`: the file whose bytes are sent instead of HAProxy's own error page.
    public var errorFiles: [Int: String] = [:]
    /// Line of the `stick-table` declaration and the `peers` section it names, if any.
    public var stickTable: StickTableInfo? = nil
    /// Line of the `cookie` directive that set `cookie` (0: none).
    public var cookieLine = 0
    public var line = 0

    public init(name: String) { self.name = name }
}

/// Where a backend declares its `stick-table`, for the drift check between two balancers.
public struct StickTableInfo: Hashable, Sendable {
    public var line: Int
    /// `peers NAME`: the table is synchronised with the other balancer through that section.
    public var peers: String?

    public init(line: Int, peers: String?) {
        self.line = line
        self.peers = peers
    }
}

/// A frontend (or the frontend half of a `listen` section).
public struct FrontendConfig: Hashable, Sendable {
    public var name: String
    public var mode = ProxyMode.http
    public var binds: [HostPort] = []
    public var defaultBackend: String? = nil
    public var forwardfor = false
    public var httpKeepAlive = true
    public var timeouts = Timeouts()
    public var stats = StatsPageConfig()
    /// The frontend's `acl`, `http-request`, `redirect`, `use_backend` and `http-response` rules.
    public var rules = ProxyRules()
    public var logging = LoggingConfig()
    public var errorFiles: [Int: String] = [:]
    public var line = 0

    public init(name: String) { self.name = name }
}

/// `stats socket PATH [mode M] [level L]` in `global`.
public struct StatsSocketConfig: Hashable, Sendable {
    public enum Level: String, Hashable, Sendable, Comparable {
        case user, `operator`, admin
        var rank: Int {
            switch self {
            case .user: 0
            case .operator: 1
            case .admin: 2
            }
        }
        public static func < (a: Level, b: Level) -> Bool { a.rank < b.rank }
    }

    public var path: String
    /// File mode of the socket, default 0o600.
    public var mode: Int = 0o600
    /// Default `operator`, as in HAProxy.
    public var level: Level = .operator

    public init(path: String) { self.path = path }
}

/// The `global` section.
public struct GlobalConfig: Hashable, Sendable {
    public var nbthread = 1
    public var maxconn: Int? = nil
    public var statsSockets: [StatsSocketConfig] = []
    /// `node NAME`: shown on the stats page; defaults to the host name.
    public var node: String? = nil
    /// `log` lines of `global`, used by proxies that say `log global`.
    public var logTargets: [LogTarget] = []

    public init() {}
}

/// A whole parsed haproxy.cfg. A `listen` section contributes both a frontend and a backend of the same name.
public struct HAProxyConfig: Hashable, Sendable {
    public var global = GlobalConfig()
    public var frontends: [FrontendConfig] = []
    public var backends: [BackendConfig] = []

    public init() {}

    public func backend(named name: String) -> BackendConfig? { backends.first { $0.name == name } }
    public func frontend(named name: String) -> FrontendConfig? { frontends.first { $0.name == name } }
}
