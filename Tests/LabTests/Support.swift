import Foundation
import RealCluster
import Testing

@testable import Lab

extension Tag {
    /// Tests on the real lab (root, namespaces, haproxy, keepalived): serialized, one lab per run.
    @Tag static var lab: Self
}

/// What the lab tests need, probed once per test run.
enum LabEnvironment {
    static let repositoryRoot: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    /// The hadeck binary the lab runs as its app servers (`swift test` builds it).
    static let hadeck = repositoryRoot + "/.build/debug/hadeck"

    /// This run's prefix for lab ids: `hdkt-PID-`, so no test lab meets a developer's `hdk` lab or
    /// another run's.
    static let prefix = "\(LabLayout.testPrefix)\(getpid())-"

    static let capabilities = LabCapabilities.current(probeNamespace: prefix + "probe")

    /// One line per missing piece; empty when the lab tests can run.
    static let missing: [String] = {
        var lines = capabilities.missing
        if !FileManager.default.isExecutableFile(atPath: hadeck) {
            lines.append("\(hadeck) is not built (swift build)")
        }
        return lines
    }()

    static var ready: Bool { missing.isEmpty }
}

/// The one lab every lab test of this run shares: built on first use, removed when the test
/// process exits (also when tests fail); labs left by earlier runs that died are removed first.
enum SharedLab {
    static let id = LabEnvironment.prefix + "s"

    private static let built: Result<Lab, any Error> = {
        removeAbandonedTestLabs()
        let lab: Lab
        do { lab = try Lab(id: id, hadeck: LabEnvironment.hadeck) } catch { return .failure(error) }
        atexit { SharedLab.removeAtExit() }
        do { try lab.up(timeout: .seconds(30)) } catch { return .failure(error) }
        return .success(lab)
    }()

    /// The shared lab, built if needed (off Swift's cooperative pool).
    static func lab() async throws -> Lab { try await Blocking.run { try built.get() } }

    /// The lab in the article's first state (lb1 MASTER, lb2 BACKUP, the client on lb1's MAC),
    /// repaired by `up` after whatever the previous test did to it, with both FIFOs drained.
    static func baseline() async throws -> Lab {
        let lab = try await lab()
        try await Blocking.run { try lab.up(timeout: .seconds(30)) }
        for reader in try fifos() { _ = reader.availableLines() }
        return lab
    }

    private static let readers: Result<[String: NotifyFIFOReader], any Error> = {
        let layout = LabLayout(id: id)
        do {
            var out: [String: NotifyFIFOReader] = [:]
            for host in ["lb1", "lb2"] { out[host] = try NotifyFIFOReader(path: layout.notifyFIFO(host)) }
            return .success(out)
        } catch {
            return .failure(error)
        }
    }()

    /// The notify FIFO readers of lb1 and lb2, held open for the whole run.
    static func fifo(_ host: String) throws -> NotifyFIFOReader { try readers.get()[host]! }
    static func fifos() throws -> [NotifyFIFOReader] { Array(try readers.get().values) }

    private static func removeAtExit() {
        guard let lab = try? Lab(id: id, hadeck: LabEnvironment.hadeck) else { return }
        _ = try? lab.down()
    }

    /// Labs whose test process is gone (a crash, a kill): their namespaces and state directories are
    /// named `hdkt-PID-...`.
    static func removeAbandonedTestLabs() {
        var ids = Set<String>()
        var strays: [String] = []
        let names =
            NetworkNamespace.names() + ((try? FileManager.default.contentsOfDirectory(atPath: LabLayout.root)) ?? [])
        for name in names where name.hasPrefix(LabLayout.testPrefix) {
            let rest = name.dropFirst(LabLayout.testPrefix.count)
            guard let pid = Int32(rest.prefix { $0.isNumber }), !LinuxProcess.isRunning(pid) else { continue }
            if let host = LabLayout.hosts.first(where: { name.hasSuffix("-" + $0.name) }),
                NetworkNamespace.exists(name)
            {
                ids.insert(String(name.dropLast(host.name.count + 1)))
            } else if NetworkNamespace.exists(name) {
                strays.append(name)
            } else {
                ids.insert(name)
            }
        }
        for id in ids { _ = try? Lab(id: id, hadeck: LabEnvironment.hadeck).down() }
        for name in strays { _ = try? ProgramRunner.run(["ip", "netns", "delete", name]) }
    }
}

/// Starts watching `host`'s notify FIFO for a line reporting `state` (MASTER, BACKUP, FAULT); the
/// task's value is how long after this call the line came, or nil when none came within `within`.
/// Start it before the action, so the line's time is when keepalived wrote it, not when the action
/// returned.
func watchFIFO(_ host: String, for state: String, within: Duration) throws -> Task<Duration?, any Error> {
    let reader = try SharedLab.fifo(host)
    let start = ContinuousClock.now
    return Task {
        try await Blocking.run {
            let deadline = start + within
            while ContinuousClock.now < deadline {
                guard let line = reader.nextLine(timeout: deadline - ContinuousClock.now) else { break }
                if NotifyLine.parse(Substring(line))?.state == state { return ContinuousClock.now - start }
            }
            return nil
        }
    }
}

/// Polls `condition` (off the cooperative pool) every 50 ms until it holds or `timeout` passes.
func eventually(within timeout: Duration, _ condition: @escaping @Sendable () -> Bool) async throws -> Bool {
    try await Blocking.run {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }
}

/// One request from the lab's client through the VIP, with a cookie jar.
func clientRequest(_ lab: Lab, jar: inout CookieJar, timeout: Duration = .seconds(2)) async throws -> HTTPReply {
    let cookie = jar.header
    let reply = try await Blocking.run {
        try HTTPProbe.get(
            host: LabLayout.vip, port: LabLayout.vipPort, path: "/login", cookie: cookie,
            namespace: lab.layout.namespace("client"), timeout: timeout)
    }
    jar.take(reply)
    return reply
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// The pids (with start times) of a lab's processes, to prove later that each is gone.
func snapshotProcesses(_ lab: Lab) -> [ProcessStat] { lab.processes().compactMap(LinuxProcess.stat) }

/// Everything of lab `id` that still exists: namespaces, its state directory, processes from
/// `before` still running, and processes whose arguments name its state directory.
func leftovers(of id: String, before: [ProcessStat]) -> [String] {
    var found: [String] = []
    found += NetworkNamespace.names().filter { $0.hasPrefix(id + "-") }.map { "namespace \($0)" }
    let dir = LabLayout.root + "/" + id
    if FileManager.default.fileExists(atPath: dir) { found.append("directory \(dir)") }
    for p in before {
        if let now = LinuxProcess.stat(p.pid), now.isRunning, now.startTime == p.startTime {
            found.append("process \(p.pid) (\(p.command))")
        }
    }
    for pid in LinuxProcess.allPids() where pid != getpid() {
        if let args = LinuxProcess.arguments(pid), args.contains(where: { $0.hasPrefix(dir + "/") }),
            LinuxProcess.isRunning(pid)
        {
            found.append("process \(pid): \(args.joined(separator: " "))")
        }
    }
    return found
}
