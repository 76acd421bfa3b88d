import BalancerCore
import HadeckBase

/// One request as the balancer handled it, for the dashboard and the log.
public struct RequestRecord: Hashable, Sendable {
    /// The balancer's name and pid.
    public var balancer: String
    public var pid: Int
    /// The frontend that accepted the connection and the backend it routed to.
    public var frontend: String
    public var backend: String
    /// The client as `IP:port`.
    public var client: String
    /// The server that answered (or was last tried); nil when none was chosen.
    public var server: String?
    /// `GET /login HTTP/1.1`, or `<BADREQ>` when the request could not be parsed.
    public var requestLine: String
    /// The status sent to the client (0 when nothing was sent: the client or server went away).
    public var status: Int
    /// Why this server (the core's `RoutingDecision.reason`), or why the balancer answered itself.
    public var reason: String
    /// The `JSESSIONID` the server set, or else the one the client sent.
    public var session: String?
    /// True when the balancer inserted its persistence cookie (`Set-Cookie: SRV=A`).
    public var insertedCookie: Bool
    /// When the connection started waiting for this request.
    public var start: Instant
    /// HAProxy's timers (`%TR/%Tw/%Tc/%Tr/%Ta`): request headers, queue, connect, server response
    /// headers, total. `nil` for a phase that never completed (HAProxy prints -1).
    public var requestTime: TimeSpan?
    public var connectTime: TimeSpan?
    public var responseTime: TimeSpan?
    /// Total time from the start of the request to the end of the response.
    public var latency: TimeSpan
    /// Response bytes sent to the client (headers included).
    public var bytesOut: Int
    /// Connection retries (`%rc`); a redispatch is shown as `+N` in the log.
    public var retries: Int
    public var redispatched: Bool
    /// HAProxy's two-letter termination state (`--`, `CR`, `cR`, `SC`, `sH`, `SH`, `CD`...).
    public var termination: String
    /// Concurrent connections at logging time: balancer-wide, on the frontend, on the server.
    public var activeConnections: Int
    public var serverConnections: Int
}

/// A server state change seen by a balancer's health checks (or admin action).
public struct CheckTransition: Hashable, Sendable {
    /// The balancer's name.
    public var balancer: String
    /// The backend holding the server.
    public var backend: String
    /// The change itself; `why` says it in words.
    public var transition: ServerTransition
    /// True when an admin action (stats socket or stats page) caused it rather than a check; the same
    /// change also arrives, with who did it, through `Balancer`'s `onAdminChange`.
    public var byAdmin = false
}

/// A server change made through a balancer's runtime API (stats socket) or its stats page, reported to
/// `Balancer`'s `onAdminChange` on the balancer's event loop, after the change took effect.
public struct AdminChangeRecord: Hashable, Sendable {
    /// Where the command came from.
    public enum Source: String, Hashable, Sendable {
        case statsSocket = "stats socket"
        case statsPage = "stats page"
    }

    /// What changed: the admin state (`ready`/`drain`/`maint`) or the runtime weight.
    public enum Change: Hashable, Sendable {
        case adminState(from: AdminState, to: AdminState)
        case weight(from: Int, to: Int)
    }

    /// The balancer's name, the backend and the server.
    public var balancer: String
    public var backend: String
    public var server: String
    public var change: Change
    /// The server's status text before and after (`UP` -> `MAINT`) and the core's sentence.
    public var transition: ServerTransition
    public var source: Source
    /// The level of the socket (stats page changes: `admin`).
    public var level: StatsSocketConfig.Level
    /// The command as received, e.g. `disable server web/webA` or `POST action=maint s=webA b=#2`.
    public var command: String
    /// One sentence for an event log, e.g. `stats socket (admin) set webA to MAINT: webA was put in maintenance...`.
    public var why: String
    /// When it happened on the balancer's clock.
    public var time: Instant
}

/// Errors of the live engine.
public enum LiveEngineError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A listening socket could not be opened.
    case cannotListen(address: String, reason: String)
    /// A channel was handed to a balancer running on another event loop.
    case wrongEventLoop
    /// The balancer or server is not running.
    case notRunning(String)
    /// A server address could not be resolved.
    case badAddress(String)

    public var description: String {
        switch self {
        case .cannotListen(let address, let reason): "cannot listen on \(address): \(reason)"
        case .wrongEventLoop: "the channel belongs to another event loop than the balancer"
        case .notRunning(let what): "\(what) is not running"
        case .badAddress(let address): "cannot resolve address '\(address)'"
        }
    }
}
