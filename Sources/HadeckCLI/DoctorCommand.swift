import ArgumentParser
import BalancerCore
import ClusterCore
import CursesTerminal
import Foundation
import HadeckBase
import LiveCluster
import LiveEngine
import RealCluster

#if canImport(Glibc)
    import Glibc
#endif

/// `hadeck doctor`: what a demo needs on this machine, one line per check with what to fix.
public struct DoctorCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check what a demo needs here (terminal, TERM, root and namespaces, programs, free ports).",
        discussion: """
            One line per check: ok, warn (the lab, recordings or pictures will miss it) or FAIL (the \
            embedded demo cannot run), with what was found and what to do. Run it in the terminal you \
            will present from. As root it also makes and deletes a throwaway network namespace. Exits 0 \
            when the embedded demo (hadeck) can run, 1 otherwise.
            """
    )

    @Flag(help: "Print the checks as one JSON object.")
    public var json = false

    @Option(help: "Check the ports of this cluster file's live cluster (default: the built-in article cluster).")
    public var cluster: String?

    @Option(help: "Check the ports with the VIP moved here, as 'hadeck --vip IP:PORT' would bind it.")
    public var vip: String?

    public init() {}

    public func validate() throws {
        if let vip, HostPort(ipv4: vip)?.ipv4?.isLoopback != true {
            throw ValidationError("--vip '\(vip)' is not a loopback IP:PORT (e.g. 127.0.0.98:8080)")
        }
    }

    public func run() throws {
        var spec: ClusterSpec
        switch ScenarioLoader.loadCluster(cluster) {
        case .success(let s): spec = s
        case .failure(let diags): throw failure(diags)
        }
        if let vip, let address = HostPort(ipv4: vip) {
            if let problem = spec.vipProblem(address) { throw failure("hadeck: --vip \(vip): \(problem)") }
            spec = spec.withVIP(address)
        }
        let checks = Doctor.checks(SystemDoctorProbes(), listeners: LiveCluster.listeners(spec: spec))
        let out = StandardOutput()
        out.write(json ? try Doctor.json(checks) : Doctor.text(checks))
        out.flush()
        if !Doctor.canRunEmbeddedDemo(checks) { throw ExitCode(1) }
    }
}

/// The machine as it is: the controlling terminal, TERM, the effective user, PATH, namespaces, sockets.
struct SystemDoctorProbes: DoctorProbes {
    func terminalSize() -> (width: Int, height: Int)? {
        var size = winsize()
        for fd in [STDOUT_FILENO, STDIN_FILENO, STDERR_FILENO] where isatty(fd) != 0 {
            if ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return (Int(size.ws_col), Int(size.ws_row)) }
        }
        let tty = open("/dev/tty", O_RDONLY | O_NOCTTY)
        guard tty >= 0 else { return nil }
        defer { close(tty) }
        guard ioctl(tty, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return (Int(size.ws_col), Int(size.ws_row))
    }

    var term: String? { ProcessInfo.processInfo.environment["TERM"] }

    func terminfoKnown(_ term: String) -> Bool { CursesTerminal.knows(term: term) }

    var isRoot: Bool { geteuid() == 0 }

    func which(_ program: String) -> String? { ProgramRunner.which(program) }

    func namespaceProblem(ip: String) -> String? {
        let name = "hadeck-doctor-\(getpid())"
        do {
            let add = try ProgramRunner.run([ip, "netns", "add", name])
            guard add.succeeded else { return "ip netns add failed: \(add.firstErrorLine)" }
            let del = try ProgramRunner.run([ip, "netns", "delete", name])
            guard del.succeeded else { return "ip netns delete \(name) failed: \(del.firstErrorLine)" }
            return nil
        } catch {
            return "\(error)"
        }
    }

    func bindProblem(_ listener: LiveListener) -> String? {
        switch listener.kind {
        case .unixSocket: return StatsSocketFile.problem(at: listener.address)
        case .tcp, .udp:
            guard let a = listener.socketAddress else { return nil }
            return Self.bindProblem(host: a.host, port: a.port, udp: listener.kind == .udp)
        }
    }

    /// Binds (and closes) a socket as the live cluster does: TCP with SO_REUSEADDR, UDP without.
    static func bindProblem(host: String, port: Int, udp: Bool) -> String? {
        let fd = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        defer { close(fd) }
        if !udp {
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { return "not an IPv4 address" }
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return r == 0 ? nil : String(cString: strerror(errno))
    }
}
