import AttachConfig
import Foundation
import RealCluster
import Testing

@testable import Lab

/// `hadeck attach --headless` on the shared lab: the article's demonstrations on the real programs,
/// seen only through the events hadeck prints and driven only through its stdin. Nested in the lab
/// suite, so they never run beside another lab test.
extension LabTests {
    @Suite(.serialized) struct Attach {
        static let lb1MAC = LabLayout.host("lb1")!.mac!
        static let lb2MAC = LabLayout.host("lb2")!.mac!

        /// One request from the client through the VIP, and its `request` event.
        func request(_ lab: Lab, _ attach: HeadlessAttach, _ jar: inout CookieJar, after: Double = -1) async throws
            -> AttachEvent?
        {
            // A request to a server that just died waits out haproxy's retries (~1 s each).
            let reply = try await clientRequest(lab, jar: &jar, timeout: .seconds(6))
            #expect(reply.status == 200)
            let session = jar.cookies["JSESSIONID"]
            return try await Blocking.run {
                attach.waitFor(within: .seconds(3), after: after) { $0.type == "request" && $0["session"] == session }
            }
        }

        // MARK: Demonstration 1: a backend dies

        @Test(.enabled(if: LabEnvironment.ready, "needs root, ip netns, haproxy, keepalived, nft: see capabilityProbe"))
        func theAppDiesAndTheClientMovesWithANewSession() async throws {
            let lab = try await SharedLab.baseline()
            let attach = try HeadlessAttach(lab)
            defer { _ = attach.quit() }
            #expect(try await Blocking.run { attach.waitAttached() }, "\(attach.events) \(attach.stderr)")
            var jar = CookieJar()
            let first = try #require(try await request(lab, attach, &jar), "\(attach.events)")
            let server = try #require(first["server"])
            let session = try #require(first["session"])
            #expect(first["via"] == "lb1" && ["webA", "webB"].contains(server))
            #expect(
                session.hasSuffix(server == "webA" ? ".jvm3" : ".jvm2")
                    && jar.cookies["SRV"] == (server == "webA" ? "A" : "B"))
            #expect(
                first["reason"]?.hasSuffix("new cookie SRV=\(server == "webA" ? "A" : "B") inserted (--NI)") == true,
                "\(first)")

            let pid = try #require(lab.runningApp(server)?.pid)
            try attach.send("kill \(server)")
            let killed = try await Blocking.run {
                attach.waitFor(within: .seconds(3)) {
                    $0.type == "backend.process" && $0["server"] == server && $0["action"] == "killed"
                }
            }
            #expect(killed?.why.contains("kill -9 \(pid)") == true, "\(attach.events)")
            #expect(
                try await eventually(within: .seconds(2)) {
                    !LinuxProcess.isRunning(pid) && lab.runningApp(server) == nil
                })

            let other = server == "webA" ? "webB" : "webA"
            let moved = try #require(try await request(lab, attach, &jar, after: killed?.t ?? 0), "\(attach.events)")
            #expect(moved["server"] == other && moved["session"] != session, "\(moved)")
            #expect(
                moved["reason"]?.contains("names a server that is down") == true
                    && moved["reason"]?.hasSuffix("(--DI)") == true)
            #expect(jar.cookies["SRV"] == (other == "webA" ? "A" : "B"))
            // haproxy's checks then take it out: its own log line, on both balancers.
            for b in ["lb1", "lb2"] {
                let down = try await Blocking.run {
                    attach.waitFor(within: .seconds(9)) {
                        $0.type == "backend.state" && $0["balancer"] == b && $0["server"] == server
                            && $0["to"] == "DOWN"
                    }
                }
                #expect(down?.why.contains("Layer4 connection problem") == true, "\(b): \(attach.events)")
                let row = try RuntimeAPI.showStat(.unix(lab.layout.statsSocket(b))).first { $0.server == server }
                #expect(row?.status.hasPrefix("DOWN") == true, "\(b)'s haproxy: \(String(describing: row))")
            }
            try attach.send("start \(server)")
            let started = try await Blocking.run {
                attach.waitFor(within: .seconds(4)) {
                    $0.type == "backend.process" && $0["server"] == server && $0["action"] == "start"
                }
            }
            let again = lab.runningApp(server)?.pid
            #expect(started != nil && again != nil && again != pid && again.map(LinuxProcess.isRunning) == true)
            let audit = try String(contentsOfFile: attach.auditLog, encoding: .utf8)
            #expect(
                audit.contains(#""action":"kill \#(server)","ok":true"#)
                    && audit.contains(#""argv":["kill","-9","\#(pid)"]"#))
        }

        // MARK: Demonstration 2: the master balancer fails, four ways

        struct Failure: Sendable, CustomTestStringConvertible {
            var command: String
            /// The event that is the action itself.
            var type: String
            var field: (String, String)
            /// lb2 is MASTER within this of it.
            var bound: Duration
            var testDescription: String { command }
        }

        static let failures = [
            Failure(
                command: "kill lb1/haproxy", type: "process", field: ("process", "haproxy"),
                bound: Bounds.detection + Bounds.masterDown + Bounds.slack),
            Failure(
                command: "kill lb1/keepalived", type: "process", field: ("process", "keepalived"),
                bound: Bounds.masterDown + Bounds.slack),
            Failure(
                command: "stop lb1/keepalived", type: "process", field: ("process", "keepalived"),
                bound: Bounds.skew + Bounds.slack),
            Failure(
                command: "poweroff lb1", type: "host.power", field: ("state", "off"),
                bound: Bounds.masterDown + Bounds.slack),
        ]

        /// Each failure once, seen through hadeck attach and checked on the lab itself: the processes
        /// it leaves, the VIP, the client's neighbour entry, keepalived's timing, and the repair
        /// (lb1 preempts back after its haproxy restarts or it powers on).
        @Test(
            .enabled(if: LabEnvironment.ready, "needs root, ip netns, haproxy, keepalived, nft: see capabilityProbe"),
            arguments: failures)
        func theVIPMovesToLb2AndTheSessionStays(_ failure: Failure) async throws {
            let lab = try await SharedLab.baseline()
            let attach = try HeadlessAttach(lab)
            defer { _ = attach.quit() }
            #expect(try await Blocking.run { attach.waitAttached() }, "\(attach.events) \(attach.stderr)")
            var jar = CookieJar()
            let before = try #require(try await request(lab, attach, &jar), "\(attach.events)")
            #expect(before["via"] == "lb1")
            let haproxy = lab.runningHAProxy("lb1")?.pid
            let keepalived = lab.runningKeepalived("lb1")
            // A silent death sends no priority-0 advert; a graceful stop sends one (lb2's counter).
            let zeroBefore = try #require(lab.vrrpStats("lb2")?.counters["Priority Zero/Received"])
            let lb1Pids = Set(NetworkNamespace.processes(in: lab.layout.namespace("lb1")))
            // The other hosts' programs, from their pid files (a namespace scan could catch a track
            // script's short-lived fork).
            let lb2Keepalived = lab.runningKeepalived("lb2")
            let elsewhere = [
                lab.runningHAProxy("lb2"), lb2Keepalived?.parent, lb2Keepalived?.vrrp, lab.runningApp("webA"),
                lab.runningApp("webB"),
            ].compactMap { $0 }

            try attach.send(failure.command)
            let action = try #require(
                try await Blocking.run {
                    attach.waitFor(within: .seconds(5)) {
                        $0.type == failure.type && $0["node"] == "lb1" && $0[failure.field.0] == failure.field.1
                    }
                }, "\(attach.events) \(attach.stderr)")
            switch failure.command {
            case "kill lb1/haproxy":
                // The real haproxy's pid, and it is gone.
                #expect(action["pid"] == haproxy.map(String.init) && action["action"] == "killed")
                #expect(
                    try await eventually(within: .seconds(2)) {
                        haproxy.map { !LinuxProcess.isRunning($0) } ?? false && lab.runningHAProxy("lb1") == nil
                    })
            case "kill lb1/keepalived":
                #expect(action["pid"] == keepalived.map { String($0.parent.pid) } && action["action"] == "killed")
                // Both keepalived processes (the parent and its VRRP child) are killed.
                let both = [keepalived?.parent.pid, keepalived?.vrrp?.pid].compactMap { $0 }
                #expect(both.count == 2)
                #expect(try await eventually(within: .seconds(2)) { both.allSatisfy { !LinuxProcess.isRunning($0) } })
            case "stop lb1/keepalived":
                #expect(action["pid"] == keepalived.map { String($0.parent.pid) } && action["action"] == "stopped")
                let both = [keepalived?.parent.pid, keepalived?.vrrp?.pid].compactMap { $0 }
                #expect(both.count == 2)
                #expect(try await eventually(within: .seconds(5)) { both.allSatisfy { !LinuxProcess.isRunning($0) } })
            default:
                // haproxy, keepalived and its VRRP child (and a track script run) were in lb1.
                #expect(lb1Pids.count >= 3, "\(lb1Pids)")
                #expect(
                    try await eventually(within: .seconds(2)) {
                        lab.linkIsUp("lb1") == false
                            && NetworkNamespace.processes(in: lab.layout.namespace("lb1")).isEmpty
                    })
            }
            let bound = failure.bound.seconds
            let master = try await Blocking.run {
                attach.waitFor(within: failure.bound + .seconds(2), after: action.t - 1) {
                    $0.type == "vrrp.state" && $0["node"] == "lb2" && $0["to"] == "MASTER"
                }
            }
            let took = try #require(master, "lb2 never MASTER: \(attach.events)").t - action.t
            report("attach, \(failure.command)", .milliseconds(Int(took * 1000)))
            #expect(took <= bound, "lb2 MASTER after \(took) s, bound \(bound) s")
            #expect(master?.why.hasPrefix(#"keepalived on lb2 (notify FIFO): INSTANCE "VI_1" MASTER 100"#) == true)
            let zeroAfter = try #require(lab.vrrpStats("lb2")?.counters["Priority Zero/Received"])
            switch failure.command {
            case "kill lb1/keepalived":
                // Died without a word: no priority-0 advert, and lb1 still holds the address.
                #expect(zeroAfter == zeroBefore, "lb2 got a priority-0 advert from a kill -9")
                #expect(lab.interface("lb1")?.addresses.contains(LabLayout.vip) == true)
            case "stop lb1/keepalived":
                #expect(zeroAfter > zeroBefore, "a graceful stop sends priority 0")
                #expect(
                    lab.interface("lb1")?.addresses.contains(LabLayout.vip) == false, "a graceful stop removes the VIP")
            case "poweroff lb1":
                #expect(zeroAfter == zeroBefore, "lb2 got a priority-0 advert from a power-off")
            default:
                break
            }
            let arp = try await Blocking.run {
                attach.waitFor(within: .seconds(2), after: action.t - 1) {
                    $0.type == "arp.update" && $0["node"] == "lb2"
                }
            }
            #expect(arp?["mac"] == Self.lb2MAC, "\(attach.events)")
            #expect(
                (arp?.t ?? .infinity) - action.t <= bound + 0.2, "the client's entry moved \(String(describing: arp))")
            #expect(try await eventually(within: .seconds(1)) { lab.clientNeighbour()?.mac == Self.lb2MAC })
            // Requests via lb2 keep the session: the SRV cookie is stateless.
            let after = try #require(try await request(lab, attach, &jar, after: master?.t ?? 0), "\(attach.events)")
            #expect(
                after["via"] == "lb2" && after["session"] == before["session"]
                    && after["reason"]?.hasSuffix("(--VN)") == true)
            // The other hosts' processes never noticed.
            #expect(
                elsewhere.count == 5 && elsewhere.allSatisfy { LinuxProcess.stat($0.pid)?.startTime == $0.startTime },
                "\(elsewhere)")

            // The repair, where the lab's own calls make it: lb1 takes the VIP back, within its
            // check's rise (haproxy restarted: 2 s) or its boot (3 s) and Master_Down_Interval.
            let repairStart = ContinuousClock.now
            let repairBound =
                failure.command == "poweroff lb1"
                ? .seconds(3) + Bounds.masterDown : .seconds(2) + Bounds.masterDown + .seconds(2)
            switch failure.command {
            case "kill lb1/haproxy":
                let newPid = try lab.startHAProxy("lb1")
                #expect(newPid != haproxy && LinuxProcess.isRunning(newPid))
            case "poweroff lb1":
                // `hadeck conform` times a power-on from keepalived's start: the hook runs once
                // haproxy runs, before keepalived does.
                let (started, atHook) = try await Blocking.run {
                    var seen: (haproxy: Bool, keepalived: Bool)?
                    let pids = try lab.powerOn("lb1") {
                        seen = (lab.runningHAProxy("lb1") != nil, lab.runningKeepalived("lb1") != nil)
                    }
                    return (pids, seen)
                }
                #expect(atHook?.haproxy == true && atHook?.keepalived == false)
                #expect(started.count == 3 && lab.linkIsUp("lb1") == true)
                #expect(lab.interface("lb1")?.addresses == ["10.77.0.11"], "it boots with its own address only")
            default:
                #expect(attach.quit() == 0)
                return
            }
            let back = try await Blocking.run {
                attach.waitFor(within: repairBound - (ContinuousClock.now - repairStart), after: master?.t ?? 0) {
                    $0.type == "vrrp.state" && $0["node"] == "lb1" && $0["to"] == "MASTER"
                }
            }
            #expect(back != nil, "lb1 did not take the VIP back after the repair: \(attach.events)")
            #expect(attach.quit() == 0)
        }

        // MARK: Runtime API on every balancer

        @Test(.enabled(if: LabEnvironment.ready, "needs root, ip netns, haproxy, keepalived, nft: see capabilityProbe"))
        func drainWebAOnBothRealHAProxies() async throws {
            let lab = try await SharedLab.baseline()
            let attach = try HeadlessAttach(lab)
            defer { _ = attach.quit() }
            #expect(try await Blocking.run { attach.waitAttached() })
            try attach.send("drain webA")
            for b in ["lb1", "lb2"] {
                let e = try await Blocking.run {
                    attach.waitFor(within: .seconds(3)) {
                        $0.type == "backend.state" && $0["balancer"] == b && $0["to"] == "DRAIN"
                    }
                }
                // Whichever of haproxy's log line and the next `show stat` poll reaches hadeck first
                // tells it; both say the change and the command that made it.
                let sent = "; after stdin (line 1) sent `set server web/webA state drain`"
                #expect(
                    e?.why == "haproxy on \(b) logged: Server web/webA enters drain state" + sent
                        || e?.why == "show stat on \(b): web/webA UP -> DRAIN (last check: Layer7 check passed)" + sent,
                    "\(attach.events)")
                let rows = try RuntimeAPI.showStat(.unix(lab.layout.statsSocket(b)))
                #expect(
                    rows.first { $0.server == "webA" }?.status == "DRAIN"
                        && rows.first { $0.server == "webB" }?.status == "UP")
            }
            try attach.send("ready webA")
            for b in ["lb1", "lb2"] {
                #expect(
                    try await Blocking.run {
                        attach.waitFor(within: .seconds(3)) {
                            $0.type == "backend.state" && $0["balancer"] == b && $0["to"] == "UP"
                        }
                    } != nil)
                #expect(
                    try RuntimeAPI.showStat(.unix(lab.layout.statsSocket(b))).first { $0.server == "webA" }?.status
                        == "UP")
            }
            let audit = try String(contentsOfFile: attach.auditLog, encoding: .utf8).split(separator: "\n")
            #expect(
                audit.count == 2
                    && audit[0].contains(#""runtime_api":"set server web/webA state drain","result":"done""#))
        }

        // MARK: Scenarios, safety

        @Test(.enabled(if: LabEnvironment.ready, "needs root, ip netns, haproxy, keepalived, nft: see capabilityProbe"))
        func aScenarioPlaysOnTheLabAndItsExpectationsAreChecked() async throws {
            let lab = try await SharedLab.baseline()
            let dir = NSTemporaryDirectory() + "hadeck-lab-scenario-\(getpid())"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            // The README's example scenario for the lab.
            let good = LabEnvironment.repositoryRoot + "/Examples/scenarios/lab-drain.scenario"
            let out = try await Blocking.run {
                try hadeck([
                    "attach", lab.layout.attachFile, "--headless", "--script", good, "--audit-log", dir + "/audit.log",
                ])
            }
            #expect(out.succeeded, "\(out.stderr)")
            let expects = out.stdout.split(separator: "\n").compactMap { AttachEvent(String($0)) }.filter {
                $0.type == "expect"
            }
            #expect(expects.count == 4 && expects.allSatisfy { ["1", "true"].contains($0["ok"]) }, "\(expects)")
            #expect(out.stdout.contains(#""type":"say","text":"webB leaves gently"#))

            let bad = dir + "/bad.scenario"
            try "at 500ms expect master lb2\nat 600ms kill lb9/haproxy\n".write(
                toFile: bad, atomically: true, encoding: .utf8)
            let refused = try await Blocking.run {
                try hadeck(["attach", lab.layout.attachFile, "--headless", "--script", bad])
            }
            #expect(
                refused.status == 1 && refused.stderr.contains("\(bad):2: error: no balancer 'lb9' in the attach file"))
            let failed = dir + "/failed.scenario"
            try "end 1s\nat 500ms expect master lb2\n".write(toFile: failed, atomically: true, encoding: .utf8)
            let run = try await Blocking.run {
                try hadeck([
                    "attach", lab.layout.attachFile, "--headless", "--script", failed, "--audit-log",
                    dir + "/audit.log",
                ])
            }
            #expect(run.status == 1 && run.stderr.contains("\(failed):2: error: expectation failed"), "\(run.stderr)")
        }

        @Test(.enabled(if: LabEnvironment.ready, "needs root, ip netns, haproxy, keepalived, nft: see capabilityProbe"))
        func oneHadeckAtATimeAndReadOnlySendsNothing() async throws {
            let lab = try await SharedLab.baseline()
            let attach = try HeadlessAttach(lab, ["--read-only"])
            defer { _ = attach.quit() }
            #expect(try await Blocking.run { attach.waitAttached() })
            let second = try await Blocking.run {
                try hadeck(["attach", lab.layout.attachFile, "--headless", "--until", "1s"])
            }
            #expect(second.status == 1, "\(second)")
            #expect(
                second.stderr.contains(
                    "lb1's log socket \(lab.layout.logSocket("lb1")) is held by another hadeck (pid \(attach.stream.pid)"
                ),
                "\(second.stderr)")
            let pid = lab.runningHAProxy("lb1")?.pid
            try attach.send("kill lb1/haproxy")
            #expect(
                try await eventually(within: .seconds(2)) {
                    attach.stderr.contains(
                        "stdin:1: error: attached with --read-only: no command is sent to the cluster")
                })
            #expect(pid != nil && lab.runningHAProxy("lb1")?.pid == pid, "haproxy still runs")
            #expect(attach.quit() == 0)
            #expect(!FileManager.default.fileExists(atPath: attach.auditLog), "read-only writes no audit log")
            #expect(!FileManager.default.fileExists(atPath: lab.layout.logSocket("lb1") + ".lock"))
        }
    }
}

extension AttachEvent {
    var why: String { fields["why"] ?? "" }
}
