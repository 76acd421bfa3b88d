import BalancerCore
import Dashboard
import Foundation
import Lab
import LiveCluster

/// How one check of `hadeck doctor` came out: `FAIL` means the embedded demo cannot run.
public enum DoctorLevel: String, Codable, Hashable, Sendable {
    case ok
    case warn
    case fail = "FAIL"
}

/// One line of `hadeck doctor`: what was checked, what was found, and what to do about it.
public struct DoctorCheck: Codable, Hashable, Sendable {
    public var check: String
    public var status: DoctorLevel
    public var found: String
    /// What to do (nil when all is well).
    public var fix: String?
    /// What needs it: `dashboard`, `embedded cluster`, `lab`, `recording`, `tmux tests`, `pictures`.
    public var neededBy: String
    /// The Debian package that brings what is missing.
    public var package: String?

    public init(
        _ check: String, _ status: DoctorLevel, _ found: String, fix: String? = nil, neededBy: String,
        package: String? = nil
    ) {
        self.check = check
        self.status = status
        self.found = found
        self.fix = fix
        self.neededBy = neededBy
        self.package = package
    }
}

/// What the checks look at. The shell reads the machine (`SystemDoctorProbes`); tests give answers.
public protocol DoctorProbes {
    /// The size of the terminal hadeck runs in, or nil when there is none.
    func terminalSize() -> (width: Int, height: Int)?
    /// `TERM`, nil when unset.
    var term: String? { get }
    /// Whether a terminfo entry for `term` exists.
    func terminfoKnown(_ term: String) -> Bool
    var isRoot: Bool { get }
    /// The program's path (a name is looked up in PATH, a path is checked as it is), nil when missing.
    func which(_ program: String) -> String?
    /// Creates and deletes a throwaway network namespace with `ip`; the failure, nil when it worked.
    func namespaceProblem(ip: String) -> String?
    /// Why `listener` cannot be bound now, nil when it can.
    func bindProblem(_ listener: LiveListener) -> String?
}

/// `hadeck doctor`'s judgement: what a demo needs, from the probes' answers (no I/O of its own).
public enum Doctor {
    /// The programs looked for: the name shown, what is looked up, its Debian package, what needs it.
    static let programs: [(name: String, path: String, package: String, neededBy: String)] = [
        ("haproxy", LabCapabilities.haproxyPath, "haproxy", "lab"),
        ("keepalived", LabCapabilities.keepalivedPath, "keepalived", "lab"),
        ("ip", "ip", "iproute2", "lab"),
        ("nft", "nft", "nftables", "lab partitions"),
        ("setsid", "setsid", "util-linux", "lab"),
        ("asciinema", "asciinema", "asciinema", "recording (asciinema play/cat of --record files)"),
        ("tmux", "tmux", "tmux", "the dashboard's terminal tests, a demo in a split screen"),
        ("chromium", "chromium", "chromium", "pictures (--screenshot SVG to PNG, as the README's)"),
    ]

    /// Every check, in the order printed.
    public static func checks(_ probes: DoctorProbes, listeners: [LiveListener]) -> [DoctorCheck] {
        var out: [DoctorCheck] = []
        let need = "\(DashboardRenderer.minWidth)x\(DashboardRenderer.minHeight)"
        if let size = probes.terminalSize() {
            if size.width >= DashboardRenderer.minWidth && size.height >= DashboardRenderer.minHeight {
                out.append(
                    DoctorCheck(
                        "terminal size", .ok, "\(size.width)x\(size.height) (the dashboard needs \(need))",
                        neededBy: "dashboard"))
            } else {
                out.append(
                    DoctorCheck(
                        "terminal size", .fail, "\(size.width)x\(size.height): smaller than the dashboard's \(need)",
                        fix: "make the window larger (or the font smaller) to at least \(need)",
                        neededBy: "dashboard"))
            }
        } else {
            out.append(
                DoctorCheck(
                    "terminal size", .warn, "no terminal: the size cannot be read here",
                    fix: "run hadeck doctor in the terminal you will show the dashboard in", neededBy: "dashboard"))
        }
        switch probes.term {
        case nil, "":
            out.append(
                DoctorCheck(
                    "TERM", .fail, "TERM is not set", fix: "export TERM=xterm-256color", neededBy: "dashboard"))
        case let term?:
            if probes.terminfoKnown(term) {
                out.append(DoctorCheck("TERM", .ok, "\(term) (terminfo found)", neededBy: "dashboard"))
            } else {
                out.append(
                    DoctorCheck(
                        "TERM", .fail, "\(term): no terminfo entry",
                        fix: "apt-get install ncurses-term, or export TERM=xterm-256color", neededBy: "dashboard",
                        package: "ncurses-term"))
            }
        }
        let sudo = "run the lab as root: sudo hadeck lab"
        out.append(
            probes.isRoot
                ? DoctorCheck("root", .ok, "running as root", neededBy: "lab")
                : DoctorCheck("root", .warn, "not root: the lab cannot make namespaces", fix: sudo, neededBy: "lab"))
        let ip = probes.which("ip")
        if !probes.isRoot {
            out.append(
                DoctorCheck("network namespaces", .warn, "not tried (needs root)", fix: sudo, neededBy: "lab"))
        } else if let ip {
            if let problem = probes.namespaceProblem(ip: ip) {
                out.append(
                    DoctorCheck(
                        "network namespaces", .warn, problem,
                        fix: "the lab needs a kernel and a container that allow network namespaces (CAP_SYS_ADMIN)",
                        neededBy: "lab"))
            } else {
                out.append(
                    DoctorCheck(
                        "network namespaces", .ok, "ip netns add and delete of a throwaway namespace work",
                        neededBy: "lab"))
            }
        } else {
            out.append(
                DoctorCheck(
                    "network namespaces", .warn, "not tried (ip is missing)", fix: "apt-get install iproute2",
                    neededBy: "lab", package: "iproute2"))
        }
        for p in programs {
            let found =
                p.name == "chromium"
                ? (probes.which("chromium") ?? probes.which("chromium-browser")) : probes.which(p.path)
            if let found {
                out.append(DoctorCheck(p.name, .ok, found, neededBy: p.neededBy))
            } else {
                out.append(
                    DoctorCheck(
                        p.name, .warn, "\(p.path) is missing", fix: "apt-get install \(p.package)",
                        neededBy: p.neededBy,
                        package: p.package))
            }
        }
        let taken = listeners.compactMap { l in probes.bindProblem(l).map { (l, $0) } }
        if taken.isEmpty {
            let vip = listeners.first.map { ", the VIP \($0.address)" } ?? ""
            out.append(
                DoctorCheck(
                    "ports", .ok, "all \(listeners.count) addresses the embedded cluster binds are free\(vip)",
                    neededBy: "embedded cluster"))
        }
        for (listener, problem) in taken {
            out.append(
                DoctorCheck(
                    "ports", .fail, "\(listener) is taken: \(problem)", fix: fix(for: listener),
                    neededBy: "embedded cluster"))
        }
        return out
    }

    /// What to do about a taken address.
    static func fix(for listener: LiveListener) -> String {
        switch listener.kind {
        case .unixSocket:
            return "stop the hadeck or haproxy serving \(listener.address) (ss -xlp | grep \(listener.address))"
        case .tcp, .udp:
            let port = listener.socketAddress.map { String($0.port) } ?? "?"
            let ss = listener.kind == .tcp ? "ss -ltnp 'sport = :\(port)'" : "ss -lunp 'sport = :\(port)'"
            let vip = listener.what == "the VIP" ? ", or move the VIP: hadeck --vip 127.0.0.98:\(port)" : ""
            return "stop what holds it (\(ss) names it; another hadeck?)\(vip)"
        }
    }

    /// Whether the embedded demo (`hadeck`, the dashboard on the live cluster) can run: no FAIL.
    public static func canRunEmbeddedDemo(_ checks: [DoctorCheck]) -> Bool { !checks.contains { $0.status == .fail } }

    /// The one `apt-get install` line for everything missing, nil when nothing is.
    public static func installLine(_ checks: [DoctorCheck]) -> String? {
        var packages: [String] = []
        for c in checks where c.status != .ok {
            if let p = c.package, !packages.contains(p) { packages.append(p) }
        }
        return packages.isEmpty ? nil : "apt-get install " + packages.joined(separator: " ")
    }

    /// One line per check (`ok  `, `warn`, `FAIL`, the check, what was found, the fix), then the
    /// verdict and the install line.
    public static func text(_ checks: [DoctorCheck]) -> String {
        let width = checks.map(\.check.count).max() ?? 0
        var lines: [String] = []
        for c in checks {
            let label = c.status.rawValue.padding(toLength: 4, withPad: " ", startingAt: 0)
            var line = "\(label)  \(c.check.padding(toLength: width, withPad: " ", startingAt: 0))  \(c.found)"
            if let fix = c.fix { line += " -> \(fix)" }
            lines.append(line)
        }
        let fails = checks.filter { $0.status == .fail }.count
        let warns = checks.filter { $0.status == .warn }.count
        if fails == 0 {
            lines.append(
                "the embedded demo can run (hadeck)"
                    + (warns == 0
                        ? "; everything else is here too" : "; \(warns) warning(s) for the lab, recordings or pictures")
            )
        } else {
            lines.append("the embedded demo cannot run: fix the \(fails) FAIL line(s) above")
        }
        if let install = installLine(checks) { lines.append("to install what is missing: \(install)") }
        return lines.joined(separator: "\n") + "\n"
    }

    struct Report: Codable {
        var embeddedDemo: Bool
        var install: String?
        var checks: [DoctorCheck]
    }

    /// `--json`: `{"checks":[...],"embeddedDemo":true,"install":"apt-get install ..."}`.
    public static func json(_ checks: [DoctorCheck]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let report = Report(embeddedDemo: canRunEmbeddedDemo(checks), install: installLine(checks), checks: checks)
        return String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
    }
}
