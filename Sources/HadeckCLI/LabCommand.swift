import ArgumentParser
import AttachedCluster
import BalancerCore
import ClusterCore
import CursesTerminal
import Dispatch
import Foundation
import HadeckBase
import Lab
import LiveEngine
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `hadeck lab ...`: the article's cluster for real (Debian's haproxy and keepalived) in network
/// namespaces on this machine.
public struct LabCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Build the article's cluster for real in network namespaces (needs root, haproxy, keepalived).",
        discussion: """
            Hosts: bridge (br0), lb1 10.77.0.11 and lb2 10.77.0.12 (Debian's haproxy + keepalived, VRRP \
            VRID 51, lb1 MASTER 150, lb2 BACKUP 100), webA 10.77.0.21:8081 and webB 10.77.0.22:8888 \
            (hadeck's Tomcat-like app server, jvm3 and jvm2), client 10.77.0.50; VIP 10.77.0.10:80. The \
            addresses exist only inside the lab's namespaces (hdk-HOST); nothing is added to this \
            machine's own network. State, configs, sockets and logs: /run/hadeck-lab/hdk/. \
            Example: hadeck lab up && hadeck lab exec client curl -c jar -b jar http://10.77.0.10/login. \
            Without a subcommand: the lab is built, the dashboard attached to it, and the lab removed when \
            the dashboard ends (q, Ctrl-C, SIGTERM or a closed terminal); --keep leaves it up.
            """,
        subcommands: [
            LabDashboard.self, LabUp.self, LabDown.self, LabStatusCommand.self, LabExec.self, LabKill.self,
            LabStop.self, LabStart.self,
            LabPowerOff.self, LabPowerOn.self, LabLink.self, LabPartition.self, LabHeal.self,
        ],
        defaultSubcommand: LabDashboard.self
    )

    public init() {}
}

/// `hadeck lab` alone (`hadeck lab dashboard`): the lab is built, the dashboard attached to it, and the
/// lab removed when the dashboard ends, however it ends.
struct LabDashboard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Build the lab, attach the dashboard, remove the lab when it ends (what 'hadeck lab' alone does).")

    @OptionGroup var options: LabOptions

    @Option(help: "Theme: dark, light, presenter, mono, or a path to a .theme file.")
    var theme: String?

    @Option(help: "How often the runtime API and the processes are polled (e.g. 1s, 500ms).")
    var refresh = "1s"

    @Option(help: "Where every action is recorded (default: ~/.local/state/hadeck/audit.log).")
    var auditLog: String?

    @Flag(help: "Leave the lab up when the dashboard ends.")
    var keep = false

    @Option(
        help: ArgumentHelp(
            "Save the session (events and keyframes) for 'hadeck replay FILE'.", valueName: "file.session"))
    var saveSession: String?

    func validate() throws {
        guard let r = ScenarioParser.parseTime(refresh), r.micros >= 100_000, r.micros <= 60_000_000 else {
            throw ValidationError("--refresh '\(refresh)' is not a time between 100ms and 60s")
        }
    }

    /// `hadeck lab` alone: up, the dashboard attached, down when it ends.
    func run() throws {
        do { try CursesTerminal.preflight() } catch { throw failure("\(error)") }
        let lab = try options.lab()
        // Until the dashboard takes over (and after it), a signal must not leave a half-built lab:
        // it is noted and acted on between the steps.
        LabSignals.install()
        defer { LabSignals.restore() }
        fputsStdout("hadeck lab: building lab \(lab.layout.id) (hadeck lab down removes it)...\n")
        do { _ = try lab.up { fputsStdout($0 + "\n") } } catch {
            let e = labFailure(error)
            if !keep { _ = try? lab.down() }
            throw e
        }
        var status: Int32 = LabSignals.pending.map { 128 + $0 } ?? 0
        if status == 0 {
            ResidentMemory.shareOneMallocArena()
            let file = try AttachCommand.load(lab.layout.attachFile)
            let attach = AttachOptions(
                refresh: TimeSpan(micros: ScenarioParser.parseTime(refresh)!.micros),
                auditLog: auditLog ?? AuditLog.defaultPath())
            do {
                status = try AttachCommand.attach(
                    file, options: attach, headless: false, until: nil, theme: theme, saveSession: saveSession,
                    sessionSource: "lab", releaseStartUpCode: true)
            } catch {
                if !keep { _ = try? lab.down() }
                throw error
            }
        }
        if keep {
            fputsStdout("hadeck lab: lab \(lab.layout.id) stays up (hadeck lab down removes it)\n")
        } else {
            do {
                let r = try lab.down()
                fputsStdout(
                    "hadeck lab: lab \(lab.layout.id) removed (\(r.namespaces.count) namespaces, \(r.processes.count) processes)\n"
                )
            } catch {
                throw labFailure(error)
            }
        }
        if status != 0 { throw ExitCode(status) }
    }
}

/// SIGINT, SIGTERM and SIGHUP while `hadeck lab` builds or removes the lab: noted, not fatal.
enum LabSignals {
    static let received = Atomic<Int32>(0)
    nonisolated(unsafe) static var previous: [Int32: sighandler_t?] = [:]

    static func install() {
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            previous[sig] = signal(sig) { s in LabSignals.received.store(s, ordering: .relaxed) }
        }
    }

    static func restore() {
        for (sig, handler) in previous { signal(sig, handler) }
    }

    static var pending: Int32? {
        let s = received.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }
}

/// The options every `lab` subcommand shares.
struct LabOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The lab's id (its namespaces are ID-HOST).", visibility: .hidden))
    var id = LabLayout.defaultID

    @Flag(
        help: """
            The mixed lab: lb2 runs 'hadeck node' (hadeck's haproxy and keepalived) beside Debian's on lb1; \
            its own lab (namespaces hdkm-HOST), never the plain one.
            """)
    var mixed = false

    /// The lab's id: `--id`, else a person's lab (`hdk`), or with `--mixed` a person's mixed lab (`hdkm`).
    var labID: String { mixed && id == LabLayout.defaultID ? LabLayout.mixedID : id }

    /// The lab, or a one-line error and exit 1.
    func lab() throws -> Lab {
        do { return try Lab(id: labID, hadeck: Self.executablePath(), mixed: mixed) } catch { throw labFailure(error) }
    }

    /// This hadeck binary, which the lab runs as `hadeck app` on its app hosts.
    static func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return n > 0
            ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    }
}

/// Prints `hadeck lab: ...` on stderr and returns the exit code to throw.
func labFailure(_ error: Error) -> ExitCode {
    let text = "\(error)"
    fputsStderr((text.hasPrefix("hadeck lab:") ? text : "hadeck lab: \(text)") + "\n")
    return ExitCode(1)
}

/// `12 13`, or `nothing`.
func pidList(_ pids: [Int32]) -> String { pids.isEmpty ? "nothing" : pids.map(String.init).joined(separator: " ") }

/// Runs a lab action and prints its one-line result.
func labAction(_ options: LabOptions, _ body: (Lab) throws(LabError) -> String) throws {
    let lab = try options.lab()
    do { fputsStdout(try body(lab) + "\n") } catch { throw labFailure(error) }
}

struct LabUp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Build the lab, or repair whatever is missing; print the attach file's path last.",
        discussion: """
            Idempotent: namespaces, links, addresses and processes that exist and work are left alone, \
            anything missing or dead is made again, a partition is healed and powered-off hosts boot. \
            Returns once lb1 is MASTER and the client reaches the VIP on lb1's MAC.
            """)

    @OptionGroup var options: LabOptions

    func run() throws {
        let lab = try options.lab()
        let start = ContinuousClock.now
        do {
            let path = try lab.up { fputsStdout($0 + "\n") }
            let took = (ContinuousClock.now - start).components
            let seconds = Double(took.seconds) + Double(took.attoseconds) / 1e18
            fputsStdout(String(format: "lab %@ is up (%.1f s); attach file:\n", lab.layout.id, seconds))
            fputsStdout(path + "\n")
        } catch {
            throw labFailure(error)
        }
    }
}

struct LabDown: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down", abstract: "Remove every namespace, process and file of the lab (also after a crash).")

    @OptionGroup var options: LabOptions

    func run() throws {
        try labAction(options) { lab throws(LabError) in
            let r = try lab.down()
            if r.isEmpty { return "lab \(lab.layout.id): nothing to remove" }
            return
                "lab \(lab.layout.id) removed: \(r.namespaces.count) namespaces, \(r.processes.count) processes"
                + (r.stateDirectory.map { ", \($0)" } ?? "")
        }
    }
}

struct LabStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Each host: namespace, address, MAC, link, processes, VRRP state; the client's VIP -> MAC.")

    @OptionGroup var options: LabOptions

    func run() throws {
        let lab = try options.lab()
        fputsStdout(lab.status().text)
    }
}

struct LabExec: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec", abstract: "Run a command on a lab host, e.g. exec client curl http://10.77.0.10/login.")

    @OptionGroup var options: LabOptions

    @Argument(help: "bridge, lb1, lb2, webA, webB or client.")
    var host: String

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.")
    var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("give the command to run on \(host)") }
    }

    func run() throws {
        let lab = try options.lab()
        let status: Int32
        do { status = try lab.exec(host, command) } catch { throw labFailure(error) }
        if status != 0 { throw ExitCode(status) }
    }
}

/// `lb1/haproxy`, `lb1/keepalived` or an app host (`webA`).
enum LabTarget {
    case haproxy(String)
    case keepalived(String)
    case app(String)

    init(_ text: String) throws {
        let parts = text.split(separator: "/").map(String.init)
        switch (parts.count, parts.last) {
        case (2, "haproxy"): self = .haproxy(parts[0])
        case (2, "keepalived"): self = .keepalived(parts[0])
        case (1, _) where LabLayout.host(text)?.isApp == true: self = .app(text)
        default:
            throw ValidationError("'\(text)' is not lb1/haproxy, lb1/keepalived (lb2 likewise), webA or webB")
        }
    }
}

struct LabKill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kill", abstract: "kill -9 lb1/haproxy, lb1/keepalived (parent and VRRP child) or an app (webA).")

    @OptionGroup var options: LabOptions
    @Argument(help: "lb1/haproxy, lb2/keepalived, webA, ...") var target: String

    func run() throws {
        let target = try LabTarget(target)
        try labAction(options) { lab throws(LabError) in
            switch target {
            case .haproxy(let h): "killed \(h)'s haproxy (kill -9 \(try lab.killHAProxy(h)))"
            case .keepalived(let h): "killed \(h)'s keepalived (kill -9 \(pidList(try lab.killKeepalived(h))))"
            case .app(let h): "killed \(h)'s app server (kill -9 \(try lab.killApp(h)))"
            }
        }
    }
}

struct LabStop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop", abstract: "Stop lb1/keepalived gracefully (SIGTERM: a priority-0 advert, the VIP leaves).")

    @OptionGroup var options: LabOptions
    @Argument(help: "lb1/keepalived or lb2/keepalived.") var target: String

    func run() throws {
        guard case .keepalived(let host) = try LabTarget(target) else {
            throw ValidationError("only keepalived stops gracefully here (lb1/keepalived); kill the others")
        }
        try labAction(options) { lab throws(LabError) in
            "stopped \(host)'s keepalived (SIGTERM to \(try lab.stopKeepalived(host)))"
        }
    }
}

struct LabStart: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start", abstract: "Start lb1/haproxy, lb1/keepalived or an app (webA) again.")

    @OptionGroup var options: LabOptions
    @Argument(help: "lb1/haproxy, lb2/keepalived, webA, ...") var target: String

    func run() throws {
        let target = try LabTarget(target)
        try labAction(options) { lab throws(LabError) in
            switch target {
            case .haproxy(let h):
                return "started \(h)'s haproxy (pid \(try lab.startHAProxy(h)))"
            case .keepalived(let h):
                let (pid, vrrp) = try lab.startKeepalived(h)
                return "started \(h)'s keepalived (pid \(pid), VRRP child \(vrrp))"
            case .app(let h):
                return "started \(h)'s app server (pid \(try lab.startApp(h)))"
            }
        }
    }
}

/// The lab's options and the one host a command acts on.
struct LabHost: ParsableArguments {
    @OptionGroup var options: LabOptions
    @Argument(help: "lb1, lb2, webA, webB or client.") var host: String

    /// `labAction` on this host: `body` gets the lab and the host's name.
    func act(_ body: (Lab, String) throws(LabError) -> String) throws {
        try labAction(options) { lab throws(LabError) in try body(lab, host) }
    }
}

/// A lab command that does one thing to one host: `perform` does it and says what it did.
protocol LabHostCommand: ParsableCommand {
    var on: LabHost { get }
    static func perform(_ lab: Lab, _ host: String) throws(LabError) -> String
}

extension LabHostCommand {
    func run() throws { try on.act(Self.perform) }
}

struct LabPowerOff: LabHostCommand {
    static let configuration = CommandConfiguration(
        commandName: "poweroff", abstract: "Power a host off: kill -9 every process in it, take its link down.")
    @OptionGroup var on: LabHost

    static func perform(_ lab: Lab, _ host: String) throws(LabError) -> String {
        "powered \(host) off (killed \(pidList(try lab.powerOff(host))))"
    }
}

struct LabPowerOn: LabHostCommand {
    static let configuration = CommandConfiguration(
        commandName: "poweron", abstract: "Power a host on: it boots with its own address only, its programs start.")
    @OptionGroup var on: LabHost

    static func perform(_ lab: Lab, _ host: String) throws(LabError) -> String {
        "powered \(host) on (started \(pidList(try lab.powerOn(host))))"
    }
}

struct LabLink: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "link", abstract: "Pull a host's cable (down) or plug it back (up); its processes keep running.")

    @OptionGroup var on: LabHost
    @Argument(help: "down or up.") var state: String

    func validate() throws {
        if state != "down" && state != "up" {
            throw ValidationError("the link state is 'down' or 'up', not '\(state)'")
        }
    }

    func run() throws {
        try on.act { lab, host throws(LabError) in
            try lab.setLink(host, up: state == "up")
            return "\(host)'s link is \(state)"
        }
    }
}

struct LabPartition: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partition", abstract: "Drop VRRP between two hosts at the bridge (nftables); heal undoes it.")

    @OptionGroup var options: LabOptions
    @Argument(help: "Default: lb1.") var a = "lb1"
    @Argument(help: "Default: lb2.") var b = "lb2"

    func run() throws {
        try labAction(options) { lab throws(LabError) in
            try lab.partition(a, b)
            return "VRRP between \(a) and \(b) is dropped at the bridge"
        }
    }
}

struct LabHeal: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "heal", abstract: "Remove the partition.")

    @OptionGroup var options: LabOptions

    func run() throws {
        try labAction(options) { lab throws(LabError) in
            let was = try lab.isPartitioned()
            try lab.heal()
            return was ? "healed: VRRP flows again" : "no partition to heal"
        }
    }
}

/// `hadeck app --name webA --listen IP:PORT --route jvm3`: one Tomcat-like app server (LiveEngine's
/// `AppServer`) until SIGTERM or SIGINT; the lab runs one on each app host.
public struct AppCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "app", abstract: "Run one Tomcat-like app server (the lab's webA and webB).", shouldDisplay: false)

    @Option(help: "The server's name (X-Served-By).") var name: String
    @Option(help: "IP:PORT to listen on.") var listen: String
    @Option(help: "Tomcat's jvmRoute: the session id's suffix.") var route: String
    @Option(help: "Written once listening; removed on exit.") var pidFile: String?

    public init() {}

    public func validate() throws {
        guard HostPort(ipv4: listen) != nil else { throw ValidationError("--listen '\(listen)' is not IP:PORT") }
    }

    public func run() throws {
        let address = HostPort(ipv4: listen)!
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = AppServer(
            name: name, host: address.host, port: address.port, jvmRoute: route, eventLoop: group.next())
        do { try server.startFuture().wait() } catch {
            fputsStderr("hadeck app: \(error)\n")
            try? group.syncShutdownGracefully()
            throw ExitCode(1)
        }
        if let pidFile {
            do { try "\(getpid())\n".write(toFile: pidFile, atomically: true, encoding: .utf8) } catch {
                fputsStderr("hadeck app: cannot write \(pidFile): \(error)\n")
            }
        }
        fputsStderr("hadeck app: \(name) (jvmRoute \(route)) listening on \(listen), pid \(getpid())\n")
        let signals = SignalHandlers()
        signals.waitForTermination()
        try? server.killFuture().wait()
        if let pidFile { try? FileManager.default.removeItem(atPath: pidFile) }
        signals.cancel()
        try? group.syncShutdownGracefully()
    }
}
