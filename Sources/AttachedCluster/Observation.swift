import AttachConfig
import BalancerCore
import ClusterModel
import HadeckBase
import RealCluster

/// Whether a process runs, as one reading of its pid file (or pid command) says.
public enum PIDReading: Hashable, Sendable {
    case running(Int32)
    /// No such process: no pid file, a stale one, or the command printed none.
    case notRunning
    /// Could not tell: the pid command failed (ssh down, a timeout).
    case unknown(String)

    public var pid: Int32? {
        if case .running(let p) = self { return p }
        return nil
    }
}

/// One reading of a balancer's processes; nil where the attach file names no pid source.
public struct ProcessReadings: Hashable, Sendable {
    public var haproxy: PIDReading?
    public var keepalived: PIDReading?
    public var vrrp: PIDReading?

    public init(haproxy: PIDReading? = nil, keepalived: PIDReading? = nil, vrrp: PIDReading? = nil) {
        self.haproxy = haproxy
        self.keepalived = keepalived
        self.vrrp = vrrp
    }
}

/// Something a real component said, as the shell read it. `AttachedState.observe` turns these into
/// state and events; nothing else changes the state.
public enum Observation: Sendable {
    /// A poll of the runtime API answered.
    case stats(balancer: String, HAProxyStatus)
    case statsFailed(balancer: String, String)
    /// A datagram from haproxy's log stream.
    case log(balancer: String, HAProxyLogMessage)
    /// The log socket was bound (`open`) or closed.
    case logFeed(balancer: String, open: Bool, String?)
    /// A line of keepalived's notify FIFO.
    case notify(balancer: String, NotifyLine)
    /// The FIFO (or the command reading it) opened, or ended.
    case notifyFeed(balancer: String, open: Bool, String?)
    /// A data dump, asked for at `requested`.
    case dump(balancer: String, KeepalivedDataDump, requested: Instant)
    case dumpFailed(balancer: String, String)
    case processes(balancer: String, ProcessReadings)
    /// A server's application process (the attach file's `servers`).
    case app(server: String, PIDReading)
    /// The client's neighbour entry for the VIP (nil: none); `source` says where it was read.
    case neighbour(NeighbourEntry?, source: String)
    case neighbourFailed(String)
    /// An action hadeck is about to run, and who asked: the processes it ends are expected to end,
    /// the changes its runtime API lines cause are theirs.
    case actionStarting(ActionPart, actor: String)
    /// An action hadeck ran, with what each step did.
    case action(ActionOutcome)
}

/// What the state asks the shell to do after an observation.
public enum Need: Hashable, Sendable {
    /// A fresh data dump of this balancer's keepalived.
    case dump(String)
    /// Poll this balancer's runtime API now.
    case poll(String)
    /// Read the processes now.
    case processes
}

/// One step of an action: a runtime API line to one haproxy, or a program (an attach file's
/// command template with its values filled in).
public enum ActionStep: Hashable, Sendable, CustomStringConvertible {
    case runtime(balancer: String, socket: StatsSocketAddress, line: String)
    case program(what: String, arguments: [String])

    public var description: String {
        switch self {
        case .runtime(let b, let socket, let line): "`\(line)` on \(b)'s stats socket \(socket)"
        case .program(_, let argv): "`\(CommandTemplate(argv).description)`"
        }
    }
}

/// What an action is for, so that its outcome becomes the right event.
public enum ActionIntent: Hashable, Sendable {
    case process(host: String, HostProcess, ProcessAction, pids: [Int32])
    case app(server: String, ProcessAction, pid: Int32?)
    case power(host: String, on: Bool)
    case link(host: String, up: Bool)
    case partition(String, String)
    case heal(String, String)
    case admin(server: String, AdminState)
    case weight(server: String, WeightChange)
    case say(String)
}

/// One part of a planned action: its intent and the steps that perform it.
public struct ActionPart: Hashable, Sendable {
    public var intent: ActionIntent
    public var steps: [ActionStep]

    public init(_ intent: ActionIntent, _ steps: [ActionStep]) {
        self.intent = intent
        self.steps = steps
    }
}

/// What one step did.
public struct StepResult: Hashable, Sendable {
    public var step: ActionStep
    public var ok: Bool
    /// haproxy's answer, or the program's exit status and first line of output or error.
    public var result: String
}

/// An action part as it ran.
public struct ActionOutcome: Hashable, Sendable {
    /// Who asked: `key`, `stdin (line 3)`, `the scenario (line 12)`.
    public var actor: String
    public var intent: ActionIntent
    public var results: [StepResult]
    /// The scenario line it came from, if any.
    public var scenarioLine: Int?

    public init(actor: String, intent: ActionIntent, results: [StepResult], scenarioLine: Int? = nil) {
        self.actor = actor
        self.intent = intent
        self.results = results
        self.scenarioLine = scenarioLine
    }

    public var ok: Bool { results.allSatisfy(\.ok) }

    /// `kill -9 4242` (exit 0); `set server web/webA state drain` on lb1 (done), ...
    public var summary: String {
        results.map { r in
            switch r.step {
            case .runtime(let b, _, let line): "`\(line)` on \(b): \(r.result)"
            case .program(_, let argv): "`\(CommandTemplate(argv).description)`: \(r.result)"
            }
        }.joined(separator: "; ")
    }
}
