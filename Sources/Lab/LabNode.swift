import Foundation
import RealCluster

#if canImport(Glibc)
    import Glibc
#endif

/// The mixed lab (`hadeck lab up --mixed`): lb2 runs `hadeck node` (hadeck's haproxy and keepalived
/// in one process) beside Debian's haproxy and keepalived on lb1, on the same bridge, so the real
/// keepalived and hadeck's elect, fail over and fail back as two real ones do. On the node host,
/// "keepalived" and "haproxy" are that one process: starting either starts it, killing or stopping
/// keepalived kills or stops it (a graceful stop: its priority-0 advert, the VIP removed).
extension Lab {
    /// Whether `host` runs `hadeck node` in this lab.
    public func isNode(_ host: String) -> Bool { mixed && host == LabLayout.nodeHost }

    static func recordedMixed(_ layout: LabLayout) -> Bool {
        guard let data = FileManager.default.contents(atPath: layout.stateFile),
            let record = try? JSONDecoder().decode(Record.self, from: data)
        else { return false }
        return record.mixed == true
    }

    /// The running `hadeck node` of `host` (by its pid file, in `host`'s namespace), if any.
    public func runningNode(_ host: String) -> ProcessStat? {
        running(host, pidFile: layout.nodePidFile(host), command: "hadeck")
    }

    /// The process that answers keepalived's signals (SIGUSR1 dump, SIGUSR2 stats) on `host`.
    func keepalivedPid(_ host: String) -> Int32? {
        isNode(host) ? runningNode(host)?.pid : runningKeepalived(host)?.parent.pid
    }

    /// Starts `hadeck node` on `host` with the host's haproxy.cfg and keepalived.conf, keepalived's
    /// TMPDIR and a log of its own; a haproxy or keepalived left there is killed first. Returns its pid.
    @discardableResult
    func startNode(_ host: String, replacing: Bool = false) throws(LabError) -> Int32 {
        if let running = runningNode(host), !replacing {
            throw .failed("\(host)'s hadeck node already runs (pid \(running.pid))")
        }
        try killOrphan([layout.haproxyPidFile(host)], "haproxy", what: "\(host)'s haproxy")
        try killOrphan(
            [layout.keepalivedPidFile(host), layout.vrrpPidFile(host)], "keepalived", what: "\(host)'s keepalived")
        try killOrphan([layout.nodePidFile(host)], "hadeck", what: "\(host)'s old hadeck node")
        do {
            try ProgramRunner.startDetached(
                [
                    tools.ip, "netns", "exec", layout.namespace(host), hadeck, "node", "-f", layout.haproxyConfig(host),
                    "-k", layout.keepalivedConfig(host), "--pid-file", layout.nodePidFile(host),
                ], environment: ["TMPDIR": layout.keepalivedTmp(host)], logFile: layout.nodeLog(host))
        } catch {
            throw .failed("\(host)'s hadeck node did not start: \(error)")
        }
        guard let s = waitFor({ self.runningNode(host) }) else {
            throw .failed("\(host)'s hadeck node did not come up: see \(layout.nodeLog(host))")
        }
        remember(host: host, program: "node", s)
        return s.pid
    }

    /// `kill -9` of `host`'s hadeck node: haproxy and keepalived die together, the VIP stays
    /// configured (as after a kill -9 of keepalived). Returns its pid.
    func killNode(_ host: String) throws(LabError) -> Int32 {
        guard let s = runningNode(host) else { throw .failed("\(host)'s hadeck node is not running") }
        try kill9([s.pid], what: "\(host)'s hadeck node")
        return s.pid
    }

    /// SIGTERM to `host`'s hadeck node (a priority-0 advert, the VIP removed, then it exits); returns
    /// its pid once it is gone.
    func stopNode(_ host: String) throws(LabError) -> Int32 {
        guard let s = runningNode(host) else { throw .failed("\(host)'s hadeck node is not running") }
        LinuxProcess.send(SIGTERM, to: s.pid)
        guard LinuxProcess.waitUntilGone([s.pid], timeout: .seconds(5)) else {
            throw .failed("\(host)'s hadeck node (pid \(s.pid)) did not stop within 5 s of SIGTERM")
        }
        return s.pid
    }

    func nodeRefusal(_ host: String, _ what: String) -> String {
        let pid = runningNode(host).map { " (pid \($0.pid))" } ?? ""
        return
            "\(host) runs hadeck node\(pid): \(what) is part of that one process; kill \(host)/keepalived kills it all"
    }

    /// keepalived's own counters for `host` (SIGUSR2, then `keepalived.stats` from its TMPDIR): adverts
    /// sent and received, and the packets it refused by reason. Nil when none comes within a second.
    public func vrrpStats(_ host: String) -> KeepalivedStats.Instance? {
        guard let pid = keepalivedPid(host) else { return nil }
        let file = layout.statsDump(host)
        try? FileManager.default.removeItem(atPath: file)
        LinuxProcess.send(SIGUSR2, to: pid)
        let text = waitFor(timeout: .seconds(1)) { () -> String? in
            guard let a = try? String(contentsOfFile: file, encoding: .utf8), a.contains("Priority Zero:") else {
                return nil
            }
            usleep(20_000)
            return (try? String(contentsOfFile: file, encoding: .utf8)) == a ? a : nil
        }
        return text.flatMap { KeepalivedStats.parse($0).instance(LabLayout.instance) }
    }
}
