import BalancerCore
import HadeckBase

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
    /// Another process serves the stats socket at this path (a `connect()` to it succeeds): hadeck
    /// never takes over, nor removes, another process's socket.
    case statsSocketInUse(path: String)
    /// Something that is not a socket is at the stats socket's path (a regular file, a directory,
    /// a dangling symbolic link...): `what` says it, e.g. `is a regular file`.
    case statsSocketPathTaken(path: String, what: String)
    /// An `errorfile` that cannot be read, or that is not an HTTP response.
    case badErrorFile(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotListen(let address, let reason): "cannot listen on \(address): \(reason)"
        case .wrongEventLoop: "the channel belongs to another event loop than the balancer"
        case .notRunning(let what): "\(what) is not running"
        case .badAddress(let address): "cannot resolve address '\(address)'"
        case .statsSocketInUse(let path):
            "another process serves the stats socket \(path): hadeck does not take it over (stop that process, or give this balancer another 'stats socket' path)"
        case .statsSocketPathTaken(let path, let what):
            "cannot open the stats socket \(path): it \(what), not a socket; hadeck does not replace it (remove it, or choose another path)"
        case .badErrorFile(let path, let reason): "errorfile : \(reason) <\(path)>."
        }
    }
}
