import BalancerCore
import HadeckBase
import Testing

@testable import ClusterModel

/// The JSON lines are derived from the typed events; their schema (README, "Events") does not change.
@Suite struct EventTests {
    static let t = Instant(micros: 12_500_000)

    @Test(arguments: [
        (
            EventKind.backendState(
                balancer: "lb1", backend: "web", server: "webA", from: "UP", to: "UP 1/3", check: "L4CON"),
            #"{"t":12.5,"type":"backend.state","balancer":"lb1","backend":"web","server":"webA","from":"UP","to":"UP 1/3","check":"L4CON","why":"w"}"#
        ),
        (
            .vrrpState(node: "lb2", from: .backup, to: .master, priority: 100, effectivePriority: 100),
            #"{"t":12.5,"type":"vrrp.state","node":"lb2","from":"BACKUP","to":"MASTER","priority":100,"effective_priority":100,"why":"w"}"#
        ),
        (
            .process(node: "lb1", process: .haproxy, action: .killed, pid: 9644),
            #"{"t":12.5,"type":"process","node":"lb1","process":"haproxy","action":"killed","pid":9644,"why":"w"}"#
        ),
        (
            .link(a: "lb1", b: nil, up: false),
            #"{"t":12.5,"type":"link","a":"lb1","b":"segment","state":"down","why":"w"}"#
        ),
        (
            .request(
                RequestRecord(
                    time: t, client: "c1", via: nil, server: nil, status: 0, session: nil, reason: "no ARP entry",
                    latency: .milliseconds(2))),
            #"{"t":12.5,"type":"request","client":"c1","via":null,"server":null,"status":0,"session":null,"reason":"no ARP entry","latency_ms":2,"why":"w"}"#
        ),
        (
            .traffic(on: true, rate: 4.5, clients: 4),
            #"{"t":12.5,"type":"traffic","on":true,"rate":4.5,"clients":4,"why":"w"}"#
        ),
    ])
    func jsonLinesKeepTheirSchema(_ kind: EventKind, _ line: String) {
        #expect(ClusterEvent(time: Self.t, kind, why: "w").jsonLine == line)
    }

    /// The line written straight into a string is the object `JSONValue` would encode, escapes included.
    @Test func jsonLineIsTheEncodedObject() {
        let e = ClusterEvent(time: Self.t, .say(text: "a \"quoted\"\tword\\ é"), why: "line\nbreak\u{1}")
        let object = JSONValue.object([("t", .double(12.5)), ("type", "say")] + e.fields + [("why", .string(e.why))])
        #expect(e.jsonLine == object.encoded)
        #expect(e.jsonLine == #"{"t":12.5,"type":"say","text":"a \"quoted\"\tword\\ é","why":"line\nbreak\u0001"}"#)
    }

    /// The events panel colours a server named webDOWNTOWN by its state, not by its name.
    @Test func summariesAndTypesComeFromTheValueNotItsText() {
        let e = ClusterEvent(
            time: Self.t,
            .backendState(balancer: "lb1", backend: "web", server: "webDOWNTOWN", from: "DOWN", to: "UP", check: ""),
            why: "webDOWNTOWN passed its checks")
        #expect(e.type == .backendState)
        #expect(e.summary() == "lb1 web/webDOWNTOWN DOWN -> UP")
        #expect(e.summary(arrow: "→") == "lb1 web/webDOWNTOWN DOWN→UP")
        if case .backendState(_, _, _, _, let to, _) = e.kind { #expect(to.base == .up && !to.isTransition) }
    }

    @Test(arguments: ["UP", "DOWN", "UP 1/3", "DOWN 2/2", "NOLB", "DRAIN", "DRAIN 1/3", "MAINT", "no check"])
    func serverStatusesReadBackAsPrinted(_ text: String) {
        #expect(ServerStatus(parsing: text).description == text)
    }

    @Test func aRealHAProxysExtraStatusTextIsKept() {
        let s = ServerStatus(parsing: "MAINT (via be_app/web1)")
        #expect(s.base == .maint && s.detail == "(via be_app/web1)")
        let odd = ServerStatus(parsing: "whatever")
        #expect(odd.base == .down && odd.detail == "whatever")
    }
}
