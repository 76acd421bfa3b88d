import BalancerCore
import ClusterConfig
import ClusterCore
import ClusterModel
import HadeckBase
import LiveEngine
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Tunables of the live embedded cluster.
public struct LiveClusterOptions: Sendable {
    /// Replaces the cluster file's VIP (`--vip`).
    public var vip: HostPort?
    /// The UDP port each host's keepalived sends and receives VRRP adverts on, on its own address.
    public var vrrpPort = 11_200
    /// What the built-in browsers request.
    public var browserPath = "/login"
    /// How long a built-in browser waits for an answer before it counts the request as lost.
    public var browserTimeout = TimeSpan.seconds(2)
    /// Connections to a dead MAC kept waiting at most (the oldest is dropped beyond).
    public var maxUnansweredConnections = 256
    /// hadeck's own diagnostics (a balancer that cannot bind, a failed connection at debug level):
    /// nowhere by default; the dashboard's `--log-file` gives it a file, the screen staying clean.
    public var logger = Logger(label: "hadeck.live", factory: { _ in SwiftLogNoOpLogHandler() })

    public init() {}
}

/// Why a live cluster cannot run.
public enum LiveClusterError: Error, CustomStringConvertible, Equatable, Sendable {
    /// An address of the cluster is outside loopback: hadeck only listens on 127.0.0.0/8.
    case notLoopback(what: String, address: String)
    case cannotListen(what: String, address: String, reason: String)
    case cannotStart([String])
    case notRunning

    public var description: String {
        switch self {
        case .notLoopback(let what, let address):
            "\(what) \(address) is not a loopback address: the live cluster only runs on 127.0.0.0/8 (use --simulate for other addresses)"
        case .cannotListen(let what, let address, let reason):
            "cannot listen on \(address) for \(what): \(reason)"
                + (reason.contains("in use") ? " (is another hadeck or haproxy running? --vip picks another VIP)" : "")
        case .cannotStart(let reasons): "the live cluster could not start: " + reasons.joined(separator: "; ")
        case .notRunning: "the live cluster is not running"
        }
    }
}

/// The whole cluster for real on loopback: each balancer host's haproxy is a `LiveEngine.Balancer`
/// on the host's address, the backends are `AppServer`s, keepalived's adverts cross UDP sockets,
/// the VIP is one listener that hands each connection to the haproxy the ARP cache names, and
/// the built-in browsers make real requests. The core (`Cluster`) decides; sockets follow.
///
/// Everything runs on one event loop. The methods here may be called from any thread but that loop.
public final class LiveCluster: Sendable {
    /// The spec actually running (with `--vip` applied).
    public let spec: ClusterSpec
    public let eventLoop: EventLoop
    public let clock: LiveClock
    /// The scenario's name, if one plays.
    public let scenarioName: String?
    let scenarioEndTime: Instant?
    let group: MultiThreadedEventLoopGroup
    let state: NIOLoopBoundBox<LiveClusterState>
    /// Once the scenario's end was checked: its problem lines (empty: it passed).
    let scenarioOutcome = ScenarioOutcome()
    /// Events so far (the dashboard's `changeSequence`), and the signal raised with each.
    let events = EventCounter()

    /// Checks the addresses; nothing is bound until `start()`.
    public init(spec: ClusterSpec, scenario: Scenario? = nil, options: LiveClusterOptions = LiveClusterOptions())
        throws(LiveClusterError)
    {
        var spec = spec
        if let vip = options.vip { spec = spec.withVIP(vip) }
        try Self.requireLoopback("the VIP", spec.vip.host)
        for host in spec.hosts { try Self.requireLoopback("balancer \(host.name)", host.address) }
        for web in spec.backends { try Self.requireLoopback("backend \(web.name)", web.address.host) }
        let running = spec
        self.spec = spec
        scenarioName = scenario?.name
        scenarioEndTime = scenario?.endTime
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        eventLoop = group.next()
        let clock = LiveClock()
        self.clock = clock
        let loop = eventLoop
        let events = self.events
        state = try! loop.submit {
            let s = LiveClusterState(spec: running, scenario: scenario, options: options, loop: loop, clock: clock)
            s.bound = NIOLoopBound(s, eventLoop: loop)
            s.onEvent = { _ in events.add() }
            return NIOLoopBoundBox(s, eventLoop: loop)
        }.wait()
    }

    private static func requireLoopback(_ what: String, _ address: String) throws(LiveClusterError) {
        guard IPv4Address(address)?.isLoopback == true else { throw .notLoopback(what: what, address: address) }
    }

    /// Called on the loop for every event (requests included), from the first one.
    /// Set it before `start()`.
    public func onEvent(_ handler: @escaping @Sendable (ClusterEvent) -> Void) {
        let state = self.state
        let events = self.events
        try? eventLoop.submit {
            state.value.onEvent = { event in
                events.add()
                handler(event)
            }
        }.wait()
    }

    /// Binds everything and boots the hosts. Throws (with nothing left bound) when an address is taken.
    public func start() async throws {
        let state = self.state
        try await eventLoop.flatSubmit { state.value.start() }.get()
    }

    /// `start()` for synchronous callers (not on the loop).
    public func startAndWait() throws {
        let state = self.state
        try eventLoop.flatSubmit { state.value.start() }.wait()
    }

    /// Closes every listener and connection and stops the loop. Safe to call twice.
    public func shutdown() async {
        let state = self.state
        try? await eventLoop.flatSubmit { state.value.shutdown() }.get()
        try? await group.shutdownGracefully()
    }

    /// `shutdown()` for synchronous callers.
    public func shutdownAndWait() {
        let state = self.state
        try? eventLoop.flatSubmit { state.value.shutdown() }.wait()
        try? group.syncShutdownGracefully()
    }

    /// Runs `body` on the loop with the core brought up to now; what it changes, the sockets follow
    /// before this returns (a killed app no longer listens, a restarted haproxy listens).
    public func withCore<T: Sendable>(_ body: @escaping @Sendable (Cluster) throws -> T) async throws -> T {
        try await runSettled(body).get()
    }

    /// `withCore` for synchronous callers.
    public func withCoreAndWait<T: Sendable>(_ body: @escaping @Sendable (Cluster) throws -> T) throws -> T {
        try runSettled(body).wait()
    }

    private func runSettled<T: Sendable>(_ body: @escaping @Sendable (Cluster) throws -> T) -> EventLoopFuture<T> {
        let state = self.state
        return eventLoop.flatSubmit { () -> EventLoopFuture<T> in
            let s = state.value
            do {
                let result = try s.run(body)
                return s.settled().map { result }
            } catch {
                return s.loop.makeFailedFuture(error)
            }
        }
    }

    /// Applies a command (as from a key, stdin or a scenario line) now.
    public func apply(_ command: ClusterCommand, by actor: String) async throws {
        try await withCore { try $0.apply(command, by: actor) }
    }

    /// Applies a command without waiting: `completion` runs on the loop once the sockets follow
    /// (processes restarted, listeners bound) or the command failed.
    public func apply(
        _ command: ClusterCommand, by actor: String,
        completion: @escaping @Sendable (Result<Void, any Error>) -> Void
    ) {
        runSettled { try $0.apply(command, by: actor) }.whenComplete(completion)
    }

    /// The core's snapshot now, with the scenario's status. Unlike `withCoreAndWait` it does not wait
    /// for processes that are starting or stopping: a screen asks for it every frame.
    public func snapshotNow(requestLimit: Int, eventLimit: Int) throws -> ClusterSnapshot {
        let state = self.state
        let outcome = scenarioOutcome
        return try eventLoop.submit { () -> ClusterSnapshot in
            let s = state.value
            var snapshot = try s.run { $0.snapshot(requestLimit: requestLimit, eventLimit: eventLimit) }
            snapshot.scenario = s.runner?.status(finished: outcome.lines.withLock { $0 != nil })
            return snapshot
        }.wait()
    }

    /// When the scenario ends (its `end` line, or 5 s after its last timed line), if one plays.
    public var scenarioEnd: Instant? { scenarioEndTime }

    /// Ends the scenario now: checks its untimed expectations and returns one
    /// `FILE:LINE: error: ...` line per failed expectation or command (empty: it passed). The
    /// second call checks nothing again and returns the same lines.
    public func finishScenario() throws -> [String] {
        let state = self.state
        let outcome = scenarioOutcome
        return try eventLoop.submit { () -> [String] in
            if let lines = outcome.lines.withLock({ $0 }) { return lines }
            let s = state.value
            guard let runner = s.runner, s.cluster != nil else { return [] }
            s.withCore { _ in runner.runToEnd(s.clock.now()) }
            let lines = runner.problemLines
            outcome.lines.withLock { $0 = lines }
            return lines
        }.wait()
    }

    /// Whether the scenario's end was checked.
    public var scenarioFinished: Bool { scenarioOutcome.lines.withLock { $0 != nil } }

}

extension LiveClusterState {
    func run<T>(_ body: (Cluster) throws -> T) throws -> T {
        guard cluster != nil, !stopped else { throw LiveClusterError.notRunning }
        var result: Result<T, Error>?
        withCore { c in result = Result { try body(c) } }
        guard let result else { throw LiveClusterError.notRunning }
        return try result.get()
    }
}

/// The live cluster as a dashboard source. Time scale and pause do not apply: it is real time.
/// A scenario being played is finished (its untimed expectations checked) when its end comes, and
/// the cluster keeps running.
public final class LiveClusterSource: ClusterSource, Sendable {
    public let live: LiveCluster

    public init(live: LiveCluster) { self.live = live }

    public func advance(wallElapsed: TimeSpan) {
        if let end = live.scenarioEnd, !live.scenarioFinished, live.clock.now() >= end {
            _ = try? live.finishScenario()
        }
    }

    public func snapshot(requestLimit: Int, eventLimit: Int) -> ClusterSnapshot {
        let name = live.spec.name
        let vip = live.spec.vip
        var snapshot =
            (try? live.snapshotNow(requestLimit: requestLimit, eventLimit: eventLimit))
            ?? ClusterSnapshot(time: .zero, clusterName: name, vip: vip, arp: ARPSnapshot(ip: vip.host))
        snapshot.source = .live
        snapshot.scenarioName = live.scenarioName
        return snapshot
    }

    public func perform(_ command: ControlCommand, by actor: String) throws -> String {
        switch command {
        case .cluster(let c):
            try live.withCoreAndWait { try $0.apply(c, by: actor) }
            return c.text
        case .setTimeScale, .setPaused:
            throw Self.realTime
        }
    }

    /// Returns at once; the answer comes when the sockets follow (a restarted haproxy listens).
    public func submit(
        _ command: ControlCommand, by actor: String,
        completion: @escaping @Sendable (Result<String, any Error>) -> Void
    ) {
        switch command {
        case .cluster(let c): live.apply(c, by: actor) { completion($0.map { c.text }) }
        case .setTimeScale, .setPaused: completion(.failure(Self.realTime))
        }
    }

    public var changeSequence: Int? { live.events.count.load(ordering: .acquiring) }

    /// While a scenario plays, the screen ticks (its end is checked in `advance`); after, it sleeps
    /// until an event.
    public var changeSignal: ChangeSignal? {
        live.scenarioEnd == nil || live.scenarioFinished ? live.events.signal : nil
    }

    static let realTime = LiveSourceError(
        "the live cluster runs in real time (hadeck --simulate slows it down or pauses it)")
}

/// How many events the live cluster has recorded, read from any thread.
final class EventCounter: Sendable {
    let count = Atomic<Int>(0)
    let signal = ChangeSignal()

    func add() {
        count.add(1, ordering: .releasing)
        signal?.raise()
    }
}

/// A scenario's problem lines once its end was checked, shared by the loop and its callers.
final class ScenarioOutcome: Sendable {
    let lines = Mutex<[String]?>(nil)
}

/// A message for the dashboard's status bar.
struct LiveSourceError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
