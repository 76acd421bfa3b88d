import BalancerCore
import Foundation
import HadeckBase
import Testing

@testable import AttachedCluster

/// The fixtures are what the lab's real haproxy 2.6.12, keepalived 2.2.7 and iproute2 said: the log
/// datagrams as a reader of `haproxy-log.sock` got them, `show info;show stat;show servers state`,
/// data dumps, notify FIFO lines and `ip monitor neigh`.
let fixtures: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast()
    return parts.joined(separator: "/") + "/Fixtures/"
}()

func fixture(_ name: String) throws -> String { try String(contentsOfFile: fixtures + name, encoding: .utf8) }

func fixtureLines(_ name: String) throws -> [String] {
    try fixture(name).split(separator: "\n").map(String.init)
}

@Suite struct LogParsingTests {
    @Test func syslogHeaders() throws {
        let line = try fixtureLines("haproxy-log-lb1.txt")[0]
        let d = SyslogDatagram.parse(line)
        #expect(d.priority == 134 && d.host == "localhost" && d.program == "haproxy" && d.pid == 28785)
        #expect(d.message.hasPrefix("10.77.0.50:41302 [02/Dec/2026:03:56:20.391] web web/webB"))
        // RFC 5424 (`format rfc5424`), `format short` and no header at all keep the message whole.
        let rfc5424 = SyslogDatagram.parse(
            "<134>1 2026-12-02T03:56:20.391+00:00 lb1 haproxy 28785 - - Proxy web started.")
        #expect(rfc5424.host == "lb1" && rfc5424.pid == 28785 && rfc5424.message == "Proxy web started.")
        #expect(
            SyslogDatagram.parse("<133>Server web/webA enters drain state.").message
                == "Server web/webA enters drain state.")
        #expect(SyslogDatagram.parse("no header\n").message == "no header")
        #expect(SyslogDatagram.parse("<13").message == "<13")
    }

    @Test func requestLinesWithTheirCookieFlags() throws {
        let lines = try fixtureLines("haproxy-log-lb1.txt").map { SyslogDatagram.parse($0).message }
        guard case .request(let new) = HAProxyLogMessage.parse(lines[0]),
            case .request(let sticky) = HAProxyLogMessage.parse(lines[1]),
            case .request(let redispatched) = HAProxyLogMessage.parse(lines[3])
        else {
            Issue.record("not requests: \(lines[0...3])")
            return
        }
        #expect(new.clientAddress == "10.77.0.50" && new.clientPort == 41302 && new.frontend == "web")
        #expect(new.backend == "web" && new.server == "webB" && new.status == 200 && new.terminationState == "--NI")
        #expect(new.requestCookie == nil && new.requestLine == "GET /login HTTP/1.1")
        #expect(new.setCookie(named: "JSESSIONID") == "6BDEC4DCC2C90AF1BACA689A968A6DA0.jvm2")
        #expect(sticky.terminationState == "--VN" && sticky.persistenceCookie?.value == "B")
        #expect(sticky.requestCookie(named: "JSESSIONID") == "6BDEC4DCC2C90AF1BACA689A968A6DA0.jvm2")
        #expect(sticky.setCookie(named: "JSESSIONID") == nil)
        // webB was killed: three retries, then redispatched to webA with a new session.
        #expect(redispatched.terminationState == "--DI" && redispatched.retries == 3 && redispatched.redispatched)
        #expect(redispatched.server == "webA" && redispatched.timers.total == 2008)
        #expect(redispatched.setCookie(named: "JSESSIONID")?.hasSuffix(".jvm3") == true)
    }

    @Test func reasonsInWords() throws {
        let lines = try fixtureLines("haproxy-log-lb1.txt").map { SyslogDatagram.parse($0).message }
        func reason(_ i: Int) -> String {
            guard case .request(let r) = HAProxyLogMessage.parse(lines[i]) else { return "not a request" }
            return RequestReason.describe(
                r, algorithm: "roundrobin", cookieName: "SRV", serverCookie: r.server == "webA" ? "A" : "B")
        }
        #expect(reason(0) == "no persistence cookie: roundrobin -> webB; new cookie SRV=B inserted (--NI)")
        #expect(reason(1) == "cookie SRV=B -> webB; cookie kept (--VN)")
        #expect(
            reason(3)
                == "cookie SRV=B names a server that is down: redispatched after 3 failed connection attempts by roundrobin -> webA; new cookie SRV=A inserted (--DI)"
        )
        let noServer = try #require(
            HTTPLogRecord.parse(
                #"10.77.0.50:41400 [02/Dec/2026:04:00:00.000] web web/<NOSRV> 0/-1/-1/-1/0 503 217 - - SC-- 1/1/0/0/0 0/0 {} {} "GET /login HTTP/1.1""#
            ))
        #expect(noServer.server == nil && noServer.status == 503 && noServer.timers.queue == -1)
        #expect(RequestReason.describe(noServer).hasSuffix("no server available: haproxy answered 503 (SC--)"))
    }

    @Test func serverStateLines() throws {
        let lines = try fixtureLines("haproxy-log-lb1.txt").map { SyslogDatagram.parse($0).message }
        let states = lines.compactMap { line -> ServerStateLog? in
            if case .server(let s) = HAProxyLogMessage.parse(line) { return s }
            return nil
        }
        #expect(
            states.map(\.status.description) == [
                "DOWN", "UP", "DRAIN", "MAINT", "UP", "DRAIN", "UP", "MAINT", "DRAIN", "DRAIN", "UP",
            ])
        let down = states[0]
        #expect(down.backend == "web" && down.server == "webB" && down.check == "L4CON")
        #expect(down.reason == "Layer4 connection problem" && down.info == "Connection refused")
        #expect(down.checkDuration == .milliseconds(0))
        #expect(
            down.text
                == #"is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms"#)
        #expect(states[1].check == "L7OK/200" && states[1].checkDuration == .milliseconds(1))
        #expect(states[2].check == "" && states[2].text == "enters drain state")
        #expect(states[4].text == "is UP/READY (leaving forced maintenance)")
        #expect(
            ServerStateLog.parse("Backup Server web/spare is DOWN, reason: Layer4 timeout, check duration: 2001ms.")?
                .backup == true)
        #expect(HAProxyLogMessage.parse("Proxy web stopped (cumulated conns: FE: 5, BE: 0).") == .proxyStopped("web"))
        #expect(HAProxyLogMessage.parse("backend 'web' has no server available!") == .noServerAvailable("web"))
        #expect(HAProxyLogMessage.parse("Server web/webA is in a mood.") == .other("Server web/webA is in a mood."))
    }

    @Test func junkIsOtherNeverACrash() {
        for junk in [
            "", " ", "[", "{", "\"", "1.2.3.4:x [a] b c/d e f g h i j k l", String(repeating: "{", count: 3000),
        ] {
            _ = HAProxyLogMessage.parse(junk)
            _ = SyslogDatagram.parse(junk)
        }
        #expect(HTTPLogRecord.parse("10.0.0.1:5 [x] web web/a 0/0/0/0/0 200 1 - - --NI") == nil)
    }
}
