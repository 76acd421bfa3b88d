import AttachConfig
import BalancerCore
import ClusterModel
import Foundation
import HadeckBase
import HadeckTestSupport
import RealCluster
import Testing

@testable import AttachedCluster

#if canImport(Glibc)
    import Glibc
#endif

/// Sends one datagram from an unnamed unix socket, as haproxy does.
func sendDatagram(_ text: String, to path: String) -> Bool {
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
    let bytes = Array(text.utf8)
    let n = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
    return n == bytes.count
}

func waitUntil(_ timeout: Duration = .seconds(3), _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

/// Collects a source's events from its threads.
final class EventBox: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [ClusterEvent] = []
    func add(_ e: ClusterEvent) {
        lock.lock()
        events.append(e)
        lock.unlock()
    }
    var all: [ClusterEvent] {
        lock.lock()
        defer { lock.unlock() }
        return events
    }
}

/// The shell around the state, on sockets and files of its own (no root, no lab): the log socket it
/// binds, the lock a second hadeck meets, an action and its audit line, read-only.
@Suite(.onItsOwnThread) struct SourceTests {
    @Test func logSocketActionsAuditAndTheOneReaderLock() throws {
        let dir = try TemporaryDirectory("attach")
        let app = try ProgramStream(["sleep", "30"])
        defer { app.terminate() }
        try "\(app.pid)\n".write(toFile: dir.file("app.pid"), atomically: true, encoding: .utf8)
        let yaml = """
            version: 1
            name: bench
            vip: 127.0.0.1:80
            balancers:
              lb1:
                haproxy:
                  stats: \(dir.file("nobody.sock"))
                  log: \(dir.file("log.sock"))
            servers:
              webX:
                pid: \(dir.file("app.pid"))
                kill: [kill, -9, "{pid}"]
            """
        let (file, diags) = AttachFile.parse(yaml, file: "t.yaml")
        let attach = try #require(file, "\(diags.items)")
        let audit = dir.file("state/audit.log")
        let source = AttachedClusterSource(
            file: attach, options: AttachOptions(refresh: .milliseconds(200), auditLog: audit))
        let box = EventBox()
        source.onEvent = { box.add($0) }
        try source.start()
        defer { source.shutdown() }

        // haproxy sends from an unnamed socket: the request shows with its route and reason.
        let line =
            #"<134>Dec  2 03:56:20 localhost haproxy[28785]: 10.77.0.50:41302 [02/Dec/2026:03:56:20.391] web web/webB 0/0/0/1/1 200 391 - - --NI 1/1/0/0/0 0/0 {} {JSESSIONID=6BDEC4DCC2C90AF1BACA689A968A6DA0.jvm2; Path=/; HttpOnly} "GET /login HTTP/1.1""#
        let before = try #require(source.changeSequence, "an attached cluster says when it changed")
        #expect(sendDatagram(line, to: dir.file("log.sock")))
        #expect(waitUntil { source.snapshot(requestLimit: 10, eventLimit: 10).requests.count == 1 })
        #expect(try #require(source.changeSequence) > before, "a log line is a change the dashboard must show")
        let snap = source.snapshot(requestLimit: 10, eventLimit: 10)
        #expect(snap.requests.first?.server == "webB" && snap.requests.first?.via == "lb1")
        #expect(snap.source.name == "attached" && snap.source.confirmsDestructive && !snap.source.canPause)
        #expect(
            snap.feeds.first { $0.name == "lb1 haproxy stats" }.map {
                if case .lost = $0.health { true } else { false }
            } == true)
        #expect(snap.feeds.first { $0.name == "lb1 haproxy log" }?.health == .ok)

        // A second hadeck on the same cluster is told who holds its log socket.
        let second = AttachedClusterSource(file: attach, options: AttachOptions(auditLog: audit))
        #expect {
            try second.start()
        } throws: { error in
            "\(error)".contains("is held by another hadeck (pid \(getpid())")
        }

        // An action: the file's command with the pid as one argument; an event; an audit line.
        #expect(waitUntil { (try? Controls.plan(.kill(.backend("webX")), state: source.withState { $0 })) != nil })
        let reply = try source.perform(.cluster(.kill(.backend("webX"))), by: "test")
        #expect(reply == "kill webX: `kill -9 \(app.pid)`: exit 0")
        #expect(app.waitForExit(timeout: .seconds(2)) == 128 + SIGKILL)
        #expect(box.all.contains { $0.kind == .backendProcess(server: "webX", action: .killed) })
        #expect(throws: ControlError.self) {
            try source.perform(.cluster(.setServerState(server: "webX", balancer: nil, .drain)), by: "test")
        }
        #expect(throws: ControlError.self) { try source.perform(.setPaused(true), by: "test") }
        let lines = try String(contentsOfFile: audit, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2, "\(lines)")
        #expect(lines[0].contains(#""actor":"test","action":"kill webX","ok":true"#))
        #expect(lines[0].contains(#""argv":["kill","-9","\#(app.pid)"],"result":"exit 0""#))
        #expect(
            lines[1].contains(#""action":"drain webX","result":"refused: no balancer's haproxy has a server 'webX'"#))

        // The readers wait on a condition, not a polled flag: shutdown ends them at once.
        let stopStart = ContinuousClock.now
        source.shutdown()
        #expect(ContinuousClock.now - stopStart < .seconds(2), "shutdown waited for sleeping readers")
        #expect(!FileManager.default.fileExists(atPath: dir.file("log.sock")), "the socket file goes with hadeck")
        #expect(!FileManager.default.fileExists(atPath: dir.file("log.sock.lock")))
    }

    @Test func readOnlySendsNothing() throws {
        let dir = try TemporaryDirectory("attach-ro")
        let (file, _) = AttachFile.parse(
            """
            version: 1
            vip: 127.0.0.1:80
            balancers:
              lb1:
                haproxy:
                  stats: \(dir.file("nobody.sock"))
                  kill: [kill, -9, "{pid}"]
            """, file: "t.yaml")
        let source = AttachedClusterSource(
            file: try #require(file), options: AttachOptions(readOnly: true, auditLog: dir.file("audit.log")))
        try source.start()
        defer { source.shutdown() }
        #expect(!source.snapshot(requestLimit: 1, eventLimit: 1).source.acceptsCommands)
        #expect(throws: ControlError("attached with --read-only: no command is sent to the cluster")) {
            try source.perform(.cluster(.kill(.process(host: "lb1", .haproxy))), by: "key")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("audit.log")), "read-only opens no audit log")
    }

    @Test func programStreamReadsLinesAsTheyCome() throws {
        let p = try ProgramStream(["sh", "-c", "echo one; sleep 0.2; echo two; read x; echo got $x"], stdin: true)
        #expect(p.nextLine(timeout: .seconds(2)) == .line("one"))
        #expect(p.nextLine(timeout: .milliseconds(50)) == .timeout)
        #expect(p.nextLine(timeout: .seconds(2)) == .line("two"))
        try p.send("three\n")
        #expect(p.nextLine(timeout: .seconds(2)) == .line("got three"))
        #expect(p.nextLine(timeout: .seconds(2)) == .ended(0))
        let long = try ProgramStream(["sleep", "30"])
        #expect(long.isRunning && long.terminate(grace: .milliseconds(200)) == 128 + SIGTERM)
    }
}
