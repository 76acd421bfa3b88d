import BalancerCore
import Foundation
import HadeckBase
import Testing

@testable import LiveEngine

/// A record with the fields of a plain 200 through webA; tests change what they look at.
func accessRecord(_ edit: (inout AccessLogRecord) -> Void = { _ in }) -> AccessLogRecord {
    var r = AccessLogRecord(
        balancer: "lb1", pid: 4242, frontend: "web", backend: "web", client: "127.0.0.5:41234", server: "webA",
        requestLine: "GET /login HTTP/1.1", status: 200, reason: "no cookie: roundrobin -> webA, new cookie SRV=A",
        session: "ABC.jvm3", requestCookie: RequestCookieStatus.none, responseCookie: .inserted,
        start: Instant(micros: 1_500_250), requestTime: .microseconds(1_200), connectTime: .microseconds(300),
        responseTime: .microseconds(2_900), latency: .microseconds(4_750), bytesOut: 412, retries: 0,
        redispatched: false,
        termination: "--", activeConnections: 3, serverConnections: 1)
    edit(&r)
    return r
}

@Suite("The httplog line: a pure formatter, byte for byte")
struct HTTPLogLineTests {
    /// The wall-clock second the records' clock started at (the date is replaced before comparing:
    /// it is local time, tested on its own below).
    static let wallAtStart = 1_796_000_000.0

    @Test func linesForEachKindOfRequestMatchTheGoldenFile() {
        let records: [AccessLogRecord] = [
            accessRecord(),
            accessRecord {
                $0.requestCookie = .valid(cookie: "SRV=A", server: "webA", serverStatus: "UP", weightZero: false)
                $0.responseCookie = ResponseCookieStatus.none
                $0.reason = "cookie SRV=A -> webA"
            },
            accessRecord {
                $0.requestCookie = .down(cookie: "SRV=A", server: "webA", serverStatus: "DOWN", persisted: false)
                $0.server = "webB"
            },
            accessRecord {
                $0.requestLine = "<BADREQ>"
                $0.server = nil
                $0.status = 400
                $0.requestCookie = nil
                $0.responseCookie = nil
                $0.requestTime = nil
                $0.connectTime = nil
                $0.responseTime = nil
                $0.termination = "PR"
                $0.bytesOut = 187
            },
            accessRecord {
                $0.status = 503
                $0.retries = 3
                $0.redispatched = true
                $0.responseCookie = ResponseCookieStatus.none
                $0.connectTime = nil
                $0.responseTime = nil
                $0.termination = "SC"
                $0.server = "webB"
            },
            accessRecord {
                $0.requestCookie = .notConfigured
                $0.responseCookie = .notConfigured
                $0.status = 0
                $0.termination = "sD"
                $0.latency = .microseconds(5_000_999)
            },
        ]
        let date = HTTPLogLine.date(Self.wallAtStart + 1.50025)
        let text = records.map { HTTPLogLine.text($0, wallAtStart: Self.wallAtStart) }.joined()
        expectGolden(text.replacingOccurrences(of: date, with: "DATE"), "httplog.txt")
    }

    @Test func theDateIsLocalTimeWithMilliseconds() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = .current
        formatter.dateFormat = "dd/MMM/yyyy:HH:mm:ss.SSS"
        let cache = LogDateCache()
        for seconds in [1_796_000_000.0, 1_796_000_000.007, 1_796_000_059.999, 1_800_000_000.25] {
            let expected = formatter.string(from: Date(timeIntervalSince1970: seconds))
            #expect(HTTPLogLine.date(seconds) == expected)
            #expect(cache.text(seconds) == expected)
            var bytes: [UInt8] = []
            cache.append(seconds, to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == expected)
        }
    }
}
