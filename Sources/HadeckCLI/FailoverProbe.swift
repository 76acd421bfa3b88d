import ArgumentParser
import BalancerCore
import ClusterCore
import ClusterModel
import Foundation
import HadeckBase
import LiveCluster
import LiveEngine
import NIOConcurrencyHelpers
import PlainSockets
import VRRPCore

#if canImport(Glibc)
    import Glibc
#endif

/// `hadeck bench failover`: a client hits the live VIP every 10 ms (with a cookie jar) while lb1
/// fails each way; prints the outage it saw next to what VRRP's timers allow.
struct FailoverBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failover",
        abstract: "Measure the outage a 10 ms client sees while lb1 fails each way (live cluster on loopback).",
        discussion: """
            For each failure (kill -9 haproxy, kill -9 keepalived, graceful stop of keepalived, power off) \
            the probe restores lb1, waits until it is MASTER and serving, fails it, and measures from the \
            first failed request to the first answered one. 'formula' is when lb2's Master_Down_Timer \
            (3 x advert_int + skew, armed by the last advert it accepted from lb1) or, for a graceful stop, \
            the skew time after the priority-0 advert, says lb2 takes over, counted from the failure.
            """
    )

    @Option(help: "A cluster file (YAML); default: the built-in article cluster.") var cluster: String?
    @Option(name: .customLong("cluster-file"), help: .hidden) var clusterFile: String?
    @Option(help: "The VIP's address and port (loopback).") var vip: String?
    @Option(help: "Milliseconds between two probe requests.") var interval = 10
    @Option(help: "Rounds of the four failures.") var rounds = 1

    func run() throws {
        BenchCommand.warnIfDebugBuild()
        var spec: ClusterSpec
        switch ScenarioLoader.loadCluster(cluster ?? clusterFile) {
        case .success(let s): spec = s
        case .failure(let diags): throw failure(diags)
        }
        spec.trafficOn = false
        var options = LiveClusterOptions()
        options.vip = vip.flatMap { HostPort(ipv4: $0) }
        let live = try LiveCluster(spec: spec, options: options)
        // Every answered request's balancer by client port: the request history samples under this
        // load, the events do not.
        let servedByPort = NIOLockedValueBox<[Int: String]>([:])
        live.onEvent { event in
            guard let r = event.request, r.status == 200, let via = r.via,
                let port = r.client.split(separator: ":").last.flatMap({ Int($0) })
            else { return }
            servedByPort.withLockedValue { $0[port] = via }
        }
        try live.startAndWait()
        defer { live.shutdownAndWait() }
        let vipAddress = live.spec.vip
        let probe = Probe(host: vipAddress.host, port: vipAddress.port, clock: { live.clock.now() })
        print("probe: GET /login every \(interval) ms on \(vipAddress) with a cookie jar")
        print(
            "failure                   outage(ms)  formula(ms)  takeover(ms)  delta(ms)  failed  session kept  served by"
        )
        var worstDelta: Int64 = 0
        var lost = 0
        for _ in 0..<rounds {
            for failure in ["kill lb1/haproxy", "kill lb1/keepalived", "stop lb1/keepalived", "poweroff lb1"] {
                try restore(live, probe: probe)
                let sessionBefore = probe.session
                // Lb2's Master_Down_Timer as the core arms it; the last one armed before takeover is the formula.
                let t0 = live.clock.now()
                let command = try parse(failure)
                try live.withCoreAndWait { try $0.apply(command, by: "the failover probe") }
                var lastDeadline: Instant?
                var tookOver = false
                var samples: [Probe.Sample] = []
                let end = t0 + .seconds(15)
                while live.clock.now() < end {
                    let s = probe.request()
                    samples.append(s)
                    let (deadline, master) = try live.withCoreAndWait { c -> (Instant?, Bool) in
                        let lb2 = c.host(named: "lb2")?.keepalived?.primary
                        return (lb2?.masterDownDeadline, lb2?.state == .master)
                    }
                    if !tookOver, let deadline { lastDeadline = deadline }
                    if master { tookOver = true }
                    if tookOver, s.ok, samples.contains(where: { !$0.ok }) { break }
                    sleepUntil(s.start + .milliseconds(Int64(interval)), clock: { live.clock.now() })
                }
                let firstFail = samples.first { !$0.ok }
                let recovered = samples.last { $0.ok }
                let outage = (firstFail.map { f in (recovered?.end ?? f.start) - f.start }) ?? .zero
                // When lb2 takes over by the formula, counted from the failure.
                var takeover: TimeSpan = .zero
                if failure.hasPrefix("stop") {
                    // Priority 0: lb2 waits only its skew time, (256 - priority) / 256 x advert_int.
                    takeover = .microseconds(Int64((256.0 - 100) / 256 * 1_000_000))
                } else if let lastDeadline {
                    takeover = lastDeadline - t0
                }
                // With haproxy dead, the host off or the VIP removed (graceful stop), nothing answers until
                // lb2 takes the VIP. A killed keepalived leaves the VIP on lb1, whose haproxy serves until
                // the ARP entry moves, then lb2 does: no outage.
                let expectsOutage = !failure.hasPrefix("kill lb1/keepalived")
                let expected = expectsOutage ? takeover - ((firstFail?.start ?? t0) - t0) : .zero
                let delta = outage - expected
                worstDelta = max(worstDelta, abs(delta.micros))
                let kept = sessionBefore != nil && probe.session == sessionBefore
                if !kept { lost += 1 }
                // Our own last answered request, found by its port: other clients' requests (curl, a
                // browser) may be newer in the log.
                // The request's event may come a moment after its answer.
                var servedBy = "-"
                for _ in 0..<20 {
                    if let port = recovered?.localPort, let via = servedByPort.withLockedValue({ $0[port] }) {
                        servedBy = via
                        break
                    }
                    usleep(5_000)
                }
                print(
                    failure.padding(toLength: 26, withPad: " ", startingAt: 0)
                        + pad(outage.micros / 1000, 10) + pad(expected.micros / 1000, 13)
                        + pad(takeover.micros / 1000, 13)
                        + pad(delta.micros / 1000, 11) + pad(Int64(samples.filter { !$0.ok }.count), 8)
                        + "  " + (kept ? "yes" : "NO ").padding(toLength: 12, withPad: " ", startingAt: 0) + "  "
                        + servedBy)
            }
        }
        print("worst |delta| \(worstDelta / 1000) ms; sticky sessions lost: \(lost)")
    }

    private func pad(_ n: Int64, _ width: Int) -> String {
        let s = String(n)
        return String(repeating: " ", count: max(0, width - s.count)) + s
    }

    private func parse(_ line: String) throws -> ClusterCommand {
        switch ScenarioParser.parseCommand(line.split(separator: " ").map(String.init)) {
        case .success(let c): return c
        case .failure(let m): throw ValidationError("\(m)")
        }
    }

    /// Brings lb1 back and waits until it is MASTER, owns the VIP and the probe is answered by it.
    private func restore(_ live: LiveCluster, probe: Probe) throws {
        _ = try? live.withCoreAndWait { try $0.apply(.restore("lb1"), by: "the failover probe") }
        let deadline = live.clock.now() + .seconds(30)
        var good = 0
        while live.clock.now() < deadline {
            let ready = try live.withCoreAndWait { c in c.vipOwner?.name == "lb1" && c.masters.map(\.name) == ["lb1"] }
            let s = probe.request()
            good = ready && s.ok ? good + 1 : 0
            if good >= 100 { return }
            usleep(10_000)
        }
        throw ValidationError("lb1 did not come back as MASTER within 30 s")
    }

    private func sleepUntil(_ t: Instant, clock: () -> Instant) {
        let wait = t - clock()
        if wait.micros > 0 { usleep(UInt32(wait.micros)) }
    }
}

/// A browser-like client on blocking sockets: one connection per request, a cookie jar.
final class Probe {
    struct Sample {
        var start: Instant
        var end: Instant
        var ok: Bool
        /// The connection's local port (how the cluster's request log names this client).
        var localPort: Int?
    }

    let host: String
    let port: Int
    let clock: () -> Instant
    private(set) var jar: [String: String] = [:]
    var session: String? { jar["JSESSIONID"] }

    /// `cookies`: what the jar holds before the first request (e.g. `SRV=A`, to start on a known server).
    init(host: String, port: Int, clock: @escaping () -> Instant, cookies: [String: String] = [:]) {
        self.host = host
        self.port = port
        self.clock = clock
        jar = cookies
    }

    /// One `GET /login`; ok when a 200 came back within 100 ms.
    func request() -> Sample {
        let start = clock()
        let (ok, port) = exchange()
        return Sample(start: start, end: clock(), ok: ok, localPort: port)
    }

    private func exchange() -> (ok: Bool, localPort: Int?) {
        var request = "GET /login HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        if !jar.isEmpty {
            request += "Cookie: " + jar.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "; ") + "\r\n"
        }
        request += "\r\n"
        // 100 ms: a request to a dead MAC is given up quickly, so the outage is measured finely.
        let (answer, localPort) = LoopbackTCP.exchangeReportingPort(
            host: host, port: port, Array(request.utf8), timeoutMicros: 100_000)
        guard let response = answer else { return (false, localPort) }
        let text = String(decoding: response, as: UTF8.self)
        guard text.hasPrefix("HTTP/1.1 200") else { return (false, localPort) }
        for line in text.split(separator: "\r\n") where line.lowercased().hasPrefix("set-cookie:") {
            let pair = line.dropFirst("set-cookie:".count).split(separator: ";").first ?? ""
            let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if parts.count == 2 { jar[String(parts[0])] = String(parts[1]) }
        }
        return (true, localPort)
    }
}
