import HadeckBase

/// HAProxy's `check_status` values, with the short names its stats and logs print.
public enum CheckStatus: String, Hashable, Sendable, CaseIterable {
    case unknown = "UNK"
    case initializing = "INI"
    case socketError = "SOCKERR"
    case l4OK = "L4OK"
    case l4Timeout = "L4TOUT"
    case l4Connection = "L4CON"
    case l6OK = "L6OK"
    case l6Timeout = "L6TOUT"
    case l6Response = "L6RSP"
    case l7OK = "L7OK"
    case l7OKConditional = "L7OKC"
    case l7Timeout = "L7TOUT"
    case l7Response = "L7RSP"
    case l7Status = "L7STS"

    /// HAProxy's long description (`check_statuses[]` in check.c).
    public var longDescription: String {
        switch self {
        case .unknown: "Unknown"
        case .initializing: "Initializing"
        case .socketError: "Socket error"
        case .l4OK: "Layer4 check passed"
        case .l4Timeout: "Layer4 timeout"
        case .l4Connection: "Layer4 connection problem"
        case .l6OK: "Layer6 check passed"
        case .l6Timeout: "Layer6 timeout"
        case .l6Response: "Layer6 invalid response"
        case .l7OK: "Layer7 check passed"
        case .l7OKConditional: "Layer7 check conditionally passed"
        case .l7Timeout: "Layer7 timeout"
        case .l7Response: "Layer7 invalid response"
        case .l7Status: "Layer7 wrong status"
        }
    }

    /// How the health counter treats this status.
    public var result: CheckResult {
        switch self {
        case .unknown, .initializing: .neutral
        case .l4OK, .l6OK, .l7OK: .passed
        case .l7OKConditional: .conditionallyPassed
        default: .failed
        }
    }
}

/// The verdict a finished check gives the health counter.
public enum CheckResult: Hashable, Sendable {
    case neutral, passed, conditionallyPassed, failed
}

/// What the network saw while running one health check. The core maps it to a `CheckStatus`.
public enum CheckOutcome: Hashable, Sendable {
    /// The TCP connection was accepted (and, for a TCP check, that is the whole check).
    case connected
    /// The connection was actively refused (RST).
    case refused
    /// No answer to the connection attempt within the connect timeout.
    case connectTimeout
    /// An HTTP check got a response with this status code.
    case httpStatus(Int)
    /// Connected, but no (complete) response arrived in time.
    case readTimeout
    /// Connected, but what came back was not a valid response (or the peer closed early).
    case badResponse
    /// The check could not even create its socket.
    case socketError
}

/// The wire form of one health check to perform.
public enum CheckKind: Hashable, Sendable {
    case tcp
    case http(method: String, uri: String, version: String)
}

/// One health check the driver must run now, and the limits it must respect.
public struct CheckJob: Hashable, Sendable {
    public var server: String
    public var address: HostPort
    public var kind: CheckKind
    /// Bound on establishing the connection.
    public var connectTimeout: TimeSpan
    /// Bound on reading the response once connected (`timeout check`); `nil` when `inter`
    /// bounds the whole check instead (see `wholeCheckTimeout`).
    public var readTimeout: TimeSpan?
    /// Without `timeout check`, HAProxy arms one timer of `inter` for connect and read together.
    public var wholeCheckTimeout: TimeSpan?
    public var startedAt: Instant
}

/// A change worth telling a human about: a status string change, an admin or weight change.
public struct ServerTransition: Hashable, Sendable {
    public var server: String
    public var fromStatus: ServerStatus
    public var toStatus: ServerStatus
    /// The statuses as `show stat` prints them.
    public var from: String { fromStatus.description }
    public var to: String { toStatus.description }
    /// `L4CON`, `L7STS/503`, `L7OK/200`... when a check caused it; `nil` for admin or weight changes.
    public var checkStatus: String?
    /// One plain English sentence saying why.
    public var why: String
    public var time: Instant

    public init(
        server: String, from: ServerStatus, to: ServerStatus, checkStatus: String?, why: String, time: Instant
    ) {
        self.server = server
        self.fromStatus = from
        self.toStatus = to
        self.checkStatus = checkStatus
        self.why = why
        self.time = time
    }
}

func ordinal(_ n: Int) -> String {
    let tens = n % 100
    if tens >= 11 && tens <= 13 { return "\(n)th" }
    switch n % 10 {
    case 1: return "\(n)st"
    case 2: return "\(n)nd"
    case 3: return "\(n)rd"
    default: return "\(n)th"
    }
}
