import BalancerCore
import HadeckBase

/// Everything a screen needs to draw the cluster at one moment. Plain values only, so the
/// embedded simulator, the live engine and (later) a real HAProxy/keepalived can all produce it.
public struct ClusterSnapshot: Sendable, Codable {
    /// The cluster's clock (seconds since start, virtual or real).
    public var time: Instant
    public var clusterName: String
    /// The scenario being played, if any.
    public var scenarioName: String?
    /// The latest `say` line of a scenario, for the presenter's caption bar.
    public var caption: String?
    public var vip: HostPort
    /// 1 = real time; 0.25 = slow motion. Ignored by live sources.
    public var timeScale: Double
    public var paused: Bool
    /// What the source is and what it can do (pause, slow motion, controls).
    public var source: SourceCapabilities
    /// Requests per second answered over the last few seconds.
    public var requestsPerSecond: Double
    public var traffic: TrafficSnapshot
    public var hosts: [HostSnapshot]
    public var arp: ARPSnapshot
    /// One row per (balancer, backend, server).
    public var servers: [ServerRow]
    /// Newest first, bounded.
    public var requests: [RequestRecord]
    /// When traffic is heavy the requests list holds a sample; this says 1 in how many.
    public var requestSampling: Int
    /// Non-request events, newest first, bounded.
    public var events: [ClusterEvent]
    /// Where an attached source's data comes from and how fresh it is; empty for embedded sources,
    /// whose data is always current.
    public var feeds: [FeedStatus] = []
    /// The scenario being played (`--script`), with its results once its end is reached.
    public var scenario: ScenarioStatus? = nil

    public init(
        time: Instant, clusterName: String, scenarioName: String? = nil, caption: String? = nil, vip: HostPort,
        timeScale: Double = 1, paused: Bool = false, source: SourceCapabilities = .simulated,
        requestsPerSecond: Double = 0,
        traffic: TrafficSnapshot = TrafficSnapshot(), hosts: [HostSnapshot] = [], arp: ARPSnapshot,
        servers: [ServerRow] = [], requests: [RequestRecord] = [], requestSampling: Int = 1, events: [ClusterEvent] = []
    ) {
        self.time = time
        self.clusterName = clusterName
        self.scenarioName = scenarioName
        self.caption = caption
        self.vip = vip
        self.timeScale = timeScale
        self.paused = paused
        self.source = source
        self.requestsPerSecond = requestsPerSecond
        self.traffic = traffic
        self.hosts = hosts
        self.arp = arp
        self.servers = servers
        self.requests = requests
        self.requestSampling = requestSampling
        self.events = events
    }

    /// Hosts whose VRRP state is MASTER.
    public var masters: [HostSnapshot] { hosts.filter { $0.vrrpState == .master } }
}

/// A scenario being played and, once its end is reached, how each of its expectations came out.
public struct ScenarioStatus: Hashable, Sendable, Codable {
    /// One checked `expect` line.
    public struct Result: Hashable, Sendable, Codable {
        public var line: Int
        /// `expect server webA DOWN on lb1`.
        public var check: String
        public var ok: Bool
        /// What the cluster showed instead (or too).
        public var seen: String
        /// When it was checked.
        public var time: Instant

        public init(line: Int, check: String, ok: Bool, seen: String, time: Instant) {
            self.line = line
            self.check = check
            self.ok = ok
            self.seen = seen
            self.time = time
        }
    }

    /// A line that could not run.
    public struct Problem: Hashable, Sendable, Codable {
        public var line: Int
        public var message: String

        public init(line: Int, message: String) {
            self.line = line
            self.message = message
        }
    }

    public var name: String
    public var file: String
    /// When it ends (its `end` line, or 5 s after its last timed line).
    public var end: Instant
    /// True once the end was reached and the expectations without a time were checked too; the
    /// cluster keeps running.
    public var finished: Bool
    /// Every expectation checked so far, in the order they were checked.
    public var results: [Result]
    public var problems: [Problem]

    public init(
        name: String, file: String, end: Instant, finished: Bool, results: [Result] = [], problems: [Problem] = []
    ) {
        self.name = name
        self.file = file
        self.end = end
        self.finished = finished
        self.results = results
        self.problems = problems
    }

    /// Every expectation held and every line ran.
    public var passed: Bool { problems.isEmpty && results.allSatisfy(\.ok) }
}

/// What a cluster source is, and which of the dashboard's controls it takes.
public struct SourceCapabilities: Hashable, Sendable, Codable {
    /// How the header names it: `simulated`, `live`, `attached`, `replay`.
    public var name: String
    /// Virtual time: `space` pauses, `<` `>` change the time scale.
    public var canPause: Bool
    /// Commands (kill, drain, power...) can be sent to it (`--read-only` attaches without).
    public var acceptsCommands: Bool
    /// A real cluster: destructive commands (kill, stop, power off, maint) need a second key press
    /// naming the target before they are sent.
    public var confirmsDestructive: Bool

    public init(name: String, canPause: Bool, acceptsCommands: Bool = true, confirmsDestructive: Bool = false) {
        self.name = name
        self.canPause = canPause
        self.acceptsCommands = acceptsCommands
        self.confirmsDestructive = confirmsDestructive
    }

    /// The embedded cluster in virtual time.
    public static let simulated = SourceCapabilities(name: "simulated", canPause: true)
    /// The embedded cluster on real sockets, in real time.
    public static let live = SourceCapabilities(name: "live", canPause: false)
}

/// The built-in browsers' traffic.
public struct TrafficSnapshot: Sendable, Hashable, Codable {
    public var on: Bool
    public var rate: Double
    public var clients: Int
    /// On, but holding back until the VIP is announced for the first time (no master yet).
    public var waitingForFirstMaster: Bool

    public init(on: Bool = false, rate: Double = 0, clients: Int = 0, waitingForFirstMaster: Bool = false) {
        self.on = on
        self.rate = rate
        self.clients = clients
        self.waitingForFirstMaster = waitingForFirstMaster
    }
}

/// One balancer host: its VRRP instance and its two processes.
public struct HostSnapshot: Sendable, Hashable, Codable {
    public var name: String
    public var address: String
    public var mac: String
    public var poweredOn: Bool
    public var linkUp: Bool
    public var vrrpState: HostVRRPState
    public var basePriority: Int
    public var effectivePriority: Int
    /// nil while the process is not running.
    public var haproxyPID: Int?
    public var keepalivedPID: Int?
    /// nil: the source cannot know (an attached keepalived that does not say).
    public var advertsSent: Int?
    public var advertsReceived: Int?
    /// While BACKUP: when the Master_Down_Timer fires, and its full length, for a countdown bar.
    public var masterDownDeadline: Instant?
    public var masterDownInterval: TimeSpan?
    /// The hosts this one cannot reach (partition).
    public var partitionedFrom: [String]
    /// Whether the host has the VIP configured (its keepalived added it and has not removed it): it
    /// answers traffic for the VIP only then, whatever the clients' ARP caches say. nil: unknown.
    public var holdsVIP: Bool?
    /// The master this host last heard, and its priority.
    public var heardMaster: String?
    public var heardMasterPriority: Int?

    public init(
        name: String, address: String, mac: String, poweredOn: Bool = true, linkUp: Bool = true,
        vrrpState: HostVRRPState,
        basePriority: Int, effectivePriority: Int, haproxyPID: Int? = nil, keepalivedPID: Int? = nil,
        advertsSent: Int? = 0, advertsReceived: Int? = 0, masterDownDeadline: Instant? = nil,
        masterDownInterval: TimeSpan? = nil, partitionedFrom: [String] = [], heardMaster: String? = nil,
        heardMasterPriority: Int? = nil, holdsVIP: Bool? = nil
    ) {
        self.holdsVIP = holdsVIP
        self.name = name
        self.address = address
        self.mac = mac
        self.poweredOn = poweredOn
        self.linkUp = linkUp
        self.vrrpState = vrrpState
        self.basePriority = basePriority
        self.effectivePriority = effectivePriority
        self.haproxyPID = haproxyPID
        self.keepalivedPID = keepalivedPID
        self.advertsSent = advertsSent
        self.advertsReceived = advertsReceived
        self.masterDownDeadline = masterDownDeadline
        self.masterDownInterval = masterDownInterval
        self.partitionedFrom = partitionedFrom
        self.heardMaster = heardMaster
        self.heardMasterPriority = heardMasterPriority
    }
}

/// The clients' ARP entry for the VIP and how it moved.
public struct ARPSnapshot: Sendable, Hashable, Codable {
    public struct Change: Sendable, Hashable, Codable {
        public var time: Instant
        public var fromMAC: String?
        public var toMAC: String
        public var node: String

        public init(time: Instant, fromMAC: String?, toMAC: String, node: String) {
            self.time = time
            self.fromMAC = fromMAC
            self.toMAC = toMAC
            self.node = node
        }
    }

    public var ip: String
    /// nil: no entry yet.
    public var mac: String?
    /// The host owning that MAC.
    public var owner: String?
    /// Newest first.
    public var history: [Change]

    public init(ip: String, mac: String? = nil, owner: String? = nil, history: [Change] = []) {
        self.ip = ip
        self.mac = mac
        self.owner = owner
        self.history = history
    }

    public var lastChange: Instant? { history.first?.time }
}

/// One server as one balancer sees it.
public struct ServerRow: Sendable, Hashable, Codable {
    public var balancer: String
    public var backend: String
    public var server: String
    /// The Tomcat route of the app behind it, if known (e.g. `jvm3`).
    public var jvmRoute: String?
    public var address: String
    /// The stats page's status: `UP`, `DOWN`, `UP 1/3`, `DOWN 2/2`, `NOLB`, `DRAIN`, `MAINT`, `no check`.
    public var status: ServerStatus
    public var adminState: AdminState
    /// e.g. `L7OK/200`, `L4CON`; nil before the first check or without checks.
    public var checkStatus: String?
    public var checkDuration: TimeSpan?
    /// When the status last changed.
    public var lastChange: Instant
    public var weight: Int
    public var initialWeight: Int
    public var currentSessions: Int
    public var totalSessions: Int
    public var requestsPerSecond: Double
    /// HAProxy's health counter (0 ... rise+fall-1) and its bounds, for a rise/fall gauge.
    public var health: Int
    public var rise: Int
    public var fall: Int
    public var checked: Bool
    public var backup: Bool
    /// Whether the application process behind it runs (known to embedded sources only).
    public var appRunning: Bool?

    public init(
        balancer: String, backend: String, server: String, jvmRoute: String? = nil, address: String,
        status: ServerStatus,
        adminState: AdminState = .ready, checkStatus: String? = nil, checkDuration: TimeSpan? = nil,
        lastChange: Instant = .zero, weight: Int = 1, initialWeight: Int = 1, currentSessions: Int = 0,
        totalSessions: Int = 0, requestsPerSecond: Double = 0, health: Int = 0, rise: Int = 2, fall: Int = 3,
        checked: Bool = true, backup: Bool = false, appRunning: Bool? = nil
    ) {
        self.balancer = balancer
        self.backend = backend
        self.server = server
        self.jvmRoute = jvmRoute
        self.address = address
        self.status = status
        self.adminState = adminState
        self.checkStatus = checkStatus
        self.checkDuration = checkDuration
        self.lastChange = lastChange
        self.weight = weight
        self.initialWeight = initialWeight
        self.currentSessions = currentSessions
        self.totalSessions = totalSessions
        self.requestsPerSecond = requestsPerSecond
        self.health = health
        self.rise = rise
        self.fall = fall
        self.checked = checked
        self.backup = backup
        self.appRunning = appRunning
    }
}

/// How a request reached the balancer that took it.
public enum RequestEntry: String, Hashable, Sendable, Codable {
    /// Through the VIP: the connection went to the host the clients' ARP entry names.
    case vip
    /// Straight to a balancer's own address, past the VIP.
    case direct
}

/// One request's route, as the requests panel shows it.
public struct RequestRecord: Sendable, Hashable, Codable {
    public var time: Instant
    public var client: String
    /// The balancer whose haproxy took it (nil: it never reached one).
    public var via: String?
    public var server: String?
    /// HTTP status; 0 when no answer came (refused, lost).
    public var status: Int
    public var session: String?
    public var reason: String
    public var latency: TimeSpan
    /// The request line, when a live balancer read one (`GET /login HTTP/1.1`).
    public var requestLine: String?
    /// Through the VIP or straight to the balancer; nil when the source cannot tell.
    public var entry: RequestEntry?

    public init(
        time: Instant, client: String, via: String?, server: String?, status: Int, session: String?, reason: String,
        latency: TimeSpan, requestLine: String? = nil, entry: RequestEntry? = nil
    ) {
        self.requestLine = requestLine
        self.entry = entry
        self.time = time
        self.client = client
        self.via = via
        self.server = server
        self.status = status
        self.session = session
        self.reason = reason
        self.latency = latency
    }
}

/// What the dashboard can ask a source to do besides cluster commands.
public enum ControlCommand: Hashable, Sendable {
    case cluster(ClusterCommand)
    /// Virtual seconds per real second (simulated sources only).
    case setTimeScale(Double)
    case setPaused(Bool)
}

/// A cluster the dashboard can watch and control: the embedded simulator, the live engine,
/// or a real HAProxy/keepalived pair.
public protocol ClusterSource: AnyObject {
    /// Lets the source catch up with the wall clock (`elapsed` real time since the last call).
    func advance(wallElapsed: TimeSpan)
    /// The state now. `requestLimit`/`eventLimit` bound the lists.
    func snapshot(requestLimit: Int, eventLimit: Int) -> ClusterSnapshot
    /// Performs a command; the returned text is a one-line confirmation for the status bar.
    /// Throws a message the status bar shows when the command cannot be done.
    func perform(_ command: ControlCommand, by actor: String) throws -> String
    /// Starts a command without waiting for it to finish: `completion` gets what `perform` would
    /// return or throw, on any thread. A source whose commands take time (restarting processes,
    /// binding sockets, running commands on remote hosts) returns at once and completes later, so
    /// the screen never waits; the default performs the command before it returns.
    func submit(
        _ command: ControlCommand, by actor: String,
        completion: @escaping @Sendable (Result<String, any Error>) -> Void)
    /// A number that grows with every event the source records, cheap to read from any thread;
    /// nil when the source cannot say. Between events only clocks and counters move: a screen
    /// that sees the same number may take a snapshot less often (the dashboard: once a second).
    var changeSequence: Int? { get }
    /// Raised whenever `changeSequence` moves, for a screen that sleeps until a change, a key or its
    /// next once-a-second frame; nil when the source must be looked at (or advanced) every tick.
    var changeSignal: ChangeSignal? { get }
}

extension ClusterSource {
    public var changeSequence: Int? { nil }
    public var changeSignal: ChangeSignal? { nil }

    public func submit(
        _ command: ControlCommand, by actor: String,
        completion: @escaping @Sendable (Result<String, any Error>) -> Void
    ) {
        completion(Result { try perform(command, by: actor) })
    }
}

/// One stream of data an attached source reads (a stats socket, a log, a notify FIFO, a neighbour
/// table), the part of the screen it feeds, and whether it still flows.
public struct FeedStatus: Hashable, Sendable, Codable {
    /// The part of the screen the data is shown in.
    public enum Area: String, Hashable, Sendable, Codable {
        case balancers, vip, backends, requests, events
    }

    public enum Health: Hashable, Sendable, Codable {
        /// Data arrives as expected.
        case ok
        /// No data for longer than expected (a slow host, a busy socket): shown with its age.
        case stale(String)
        /// The feed is gone (socket closed, FIFO gone, ssh down): what is shown is not current.
        case lost(String)
    }

    /// e.g. `lb1 haproxy stats`, `lb2 keepalived fifo`, `client neighbours`.
    public var name: String
    public var area: Area
    /// When data last arrived (the cluster's clock); nil: never.
    public var lastUpdate: Instant?
    public var health: Health

    public init(name: String, area: Area, lastUpdate: Instant?, health: Health) {
        self.name = name
        self.area = area
        self.lastUpdate = lastUpdate
        self.health = health
    }
}
