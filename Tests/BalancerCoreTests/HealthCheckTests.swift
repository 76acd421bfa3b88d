import HadeckBase
import Testing

@testable import BalancerCore

struct CheckStep: Sendable, CustomStringConvertible {
    var dueMs: Int64
    var outcome: CheckOutcome
    var status: String
    var check: String
    var description: String { "\(dueMs)ms \(status)" }
}

struct HealthRow: Sendable, CustomStringConvertible {
    var name: String
    var rise: Int
    var fall: Int
    var fastinter: Int64?
    var downinter: Int64?
    var http: Bool
    var initialStatus: String
    var steps: [CheckStep]
    var finalDueMs: Int64
    var description: String { name }
}

let healthRows: [HealthRow] = [
    HealthRow(
        name: "tcp rise 2 fall 3 inter 2000", rise: 2, fall: 3, fastinter: nil, downinter: nil, http: false,
        initialStatus: "UP 1/3",
        steps: [
            CheckStep(dueMs: 0, outcome: .connected, status: "UP", check: "L4OK"),
            CheckStep(dueMs: 2000, outcome: .refused, status: "UP 2/3", check: "L4CON"),
            CheckStep(dueMs: 4000, outcome: .refused, status: "UP 1/3", check: "L4CON"),
            CheckStep(dueMs: 6000, outcome: .refused, status: "DOWN", check: "L4CON"),
            CheckStep(dueMs: 8000, outcome: .connectTimeout, status: "DOWN", check: "L4TOUT"),
            CheckStep(dueMs: 10000, outcome: .connected, status: "DOWN 1/2", check: "L4OK"),
            CheckStep(dueMs: 12000, outcome: .connected, status: "UP", check: "L4OK"),
        ], finalDueMs: 14000),
    HealthRow(
        name: "http rise 3 fall 2 fastinter 500 downinter 5000", rise: 3, fall: 2, fastinter: 500, downinter: 5000,
        http: true,
        initialStatus: "UP 1/2",
        steps: [
            CheckStep(dueMs: 0, outcome: .httpStatus(200), status: "UP", check: "L7OK/200"),
            CheckStep(dueMs: 2000, outcome: .httpStatus(503), status: "UP 1/2", check: "L7STS/503"),
            CheckStep(dueMs: 2500, outcome: .refused, status: "DOWN", check: "L4CON"),
            CheckStep(dueMs: 7500, outcome: .httpStatus(302), status: "DOWN 1/3", check: "L7OK/302"),
            CheckStep(dueMs: 8000, outcome: .readTimeout, status: "DOWN", check: "L7TOUT"),
            CheckStep(dueMs: 13000, outcome: .httpStatus(200), status: "DOWN 1/3", check: "L7OK/200"),
            CheckStep(dueMs: 13500, outcome: .httpStatus(200), status: "DOWN 2/3", check: "L7OK/200"),
            CheckStep(dueMs: 14000, outcome: .httpStatus(204), status: "UP", check: "L7OK/204"),
        ], finalDueMs: 16000),
]

@Test(arguments: healthRows)
func healthSequence(row: HealthRow) {
    var s = server("webA", check: true, rise: row.rise, fall: row.fall)
    s.fastinter = row.fastinter.map { .milliseconds($0) }
    s.downinter = row.downinter.map { .milliseconds($0) }
    let b = backend(.roundrobin, [s]) { if row.http { $0.httpCheck = HTTPCheckConfig() } }
    #expect(b.status(of: "webA")?.description == row.initialStatus)
    #expect(b.snapshot(now: .zero)[0].checkStatus == .initializing)
    for step in row.steps {
        #expect(b.nextCheckDue == at(step.dueMs), "due time before \(step)")
        #expect(b.startDueChecks(now: at(step.dueMs - 1)).isEmpty)
        let jobs = b.startDueChecks(now: at(step.dueMs))
        #expect(jobs.map(\.server) == ["webA"])
        _ = b.completeCheck(server: "webA", outcome: step.outcome, duration: .milliseconds(0), now: at(step.dueMs))
        let snap = b.snapshot(now: at(step.dueMs))[0]
        #expect(snap.status == step.status, "\(step)")
        #expect(snap.checkStatusText == step.check, "\(step)")
    }
    #expect(b.nextCheckDue == at(row.finalDueMs))
    #expect(b.snapshot(now: at(row.finalDueMs))[0].downTransitions == 1)
}

@Test func downTransitionSaysWhy() {
    let b = backend(.roundrobin, [server("webA", check: true)])
    _ = b.startDueChecks(now: .zero)
    _ = b.completeCheck(server: "webA", outcome: .connected, duration: .milliseconds(1), now: .zero)
    var last: [ServerTransition] = []
    for t: Int64 in [2000, 4000, 6000] {
        _ = b.startDueChecks(now: at(t))
        last = b.completeCheck(server: "webA", outcome: .refused, duration: .milliseconds(1), now: at(t))
    }
    #expect(last.count == 1)
    #expect(last.first?.from == "UP 1/3")
    #expect(last.first?.to == "DOWN")
    #expect(last.first?.checkStatus == "L4CON")
    #expect(last.first?.why == "webA failed its 3rd check in a row (L4CON: connection refused): DOWN")
    let snap = b.snapshot(now: at(7000))[0]
    #expect(snap.failedChecks == 3)
    #expect(snap.downtime == .milliseconds(1000))
}

@Test func startUpHealthIsRiseSoOneFailureIsEnough() {
    // HAProxy starts servers at health = rise: a server dead at start-up is DOWN after one check.
    let b = backend(.roundrobin, [server("webA", check: true)])
    _ = b.startDueChecks(now: .zero)
    let t = b.completeCheck(server: "webA", outcome: .refused, duration: .zero, now: .zero)
    #expect(t.map(\.to) == ["DOWN"])
    #expect(t.first?.why == "webA failed its 1st check in a row (L4CON: connection refused): DOWN")
}

@Test(arguments: [(2, [Int64(0), 1000]), (3, [0, 666, 1333]), (4, [0, 500, 1000, 1500])])
func initialChecksAreSpread(count: Int, expected: [Int64]) {
    // fall 1 makes the start-up health the maximum, so inter (2000) rules the spread.
    let b = backend(.roundrobin, (0..<count).map { server("s\($0)", check: true, fall: 1) })
    let due = b.serverNames.map { b.nextCheck(of: $0) }
    #expect(due == expected.map { Optional(at($0)) })
}

@Test func checkTimeouts() {
    var s = server("webA", check: true)
    s.inter = .milliseconds(2000)
    let plain = backend(.roundrobin, [s])
    let job = plain.startDueChecks(now: .zero)[0]
    #expect(job.kind == .tcp)
    #expect(job.connectTimeout == .milliseconds(2000))
    #expect(job.readTimeout == nil)
    #expect(job.wholeCheckTimeout == .milliseconds(2000))

    let bounded = backend(.roundrobin, [s]) {
        $0.timeouts.connect = .seconds(5)
        $0.timeouts.check = .seconds(1)
        $0.httpCheck = HTTPCheckConfig()
    }
    let job2 = bounded.startDueChecks(now: .zero)[0]
    #expect(job2.kind == .http(method: "OPTIONS", uri: "/", version: "HTTP/1.0"))
    #expect(job2.connectTimeout == .milliseconds(2000))
    #expect(job2.readTimeout == .seconds(1))
    #expect(job2.wholeCheckTimeout == nil)
}

@Test(arguments: [(Optional<Int>.none, 302, "UP"), (200, 302, "UP 2/3"), (nil, 404, "NOLB")])
func httpCheckRules(expect: Int?, code: Int, status: String) {
    let b = backend(.roundrobin, [server("webA", check: true)]) {
        var h = HTTPCheckConfig()
        h.expectStatus = expect
        h.disableOn404 = true
        $0.httpCheck = h
    }
    _ = b.startDueChecks(now: .zero)
    _ = b.completeCheck(server: "webA", outcome: .httpStatus(200), duration: .zero, now: .zero)
    _ = b.startDueChecks(now: at(2000))
    _ = b.completeCheck(server: "webA", outcome: .httpStatus(code), duration: .zero, now: at(2000))
    #expect(b.status(of: "webA")?.description == status)
}

@Test func maintIsNotCheckedAndComesBackGoingUp() throws {
    let b = backend(.roundrobin, [server("webA", check: true), server("webB", check: true)])
    _ = try b.setAdminState(server: "webA", .maint, now: .zero)
    #expect(b.status(of: "webA") == "MAINT")
    let jobs = b.startDueChecks(now: at(1000))
    #expect(jobs.map(\.server) == ["webB"])
    #expect(b.nextCheck(of: "webA") == at(2000))
    let back = try b.setAdminState(server: "webA", .ready, now: at(1500))
    #expect(back.first?.to == "UP 1/3")
    let drain = try b.setAdminState(server: "webB", .drain, now: at(1500))
    #expect(drain.first?.to == "DRAIN 1/3")
    #expect(b.status(of: "nope") == nil)
    let unchecked = backend(.roundrobin, [server("webC")])
    #expect(unchecked.status(of: "webC") == "no check")
    #expect(unchecked.nextCheckDue == nil)
}

/// A check in flight when the server goes into maintenance counts for nothing, and checks go on after it.
@Test func aCheckInFlightIntoMaintenanceDoesNotStopLaterChecks() throws {
    let b = backend(.roundrobin, [server("webA", check: true, rise: 2, fall: 3)])
    let jobs = b.startDueChecks(now: at(0))
    #expect(jobs.count == 1)
    _ = try b.setAdminState(server: "webA", .maint, now: at(1))
    #expect(b.completeCheck(server: "webA", outcome: .connected, duration: .zero, now: at(2)).isEmpty)
    _ = try b.setAdminState(server: "webA", .ready, now: at(3))
    #expect(b.status(of: "webA")?.isTransition == true)
    #expect(b.startDueChecks(now: at(2_002)).count == 1, "the next check runs after inter")
    let up = b.completeCheck(server: "webA", outcome: .connected, duration: .zero, now: at(2_003))
    #expect(up.first?.why.contains("passed its 1st check in a row") == true, "\(up)")
}
