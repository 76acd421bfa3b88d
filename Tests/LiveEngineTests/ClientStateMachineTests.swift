import HadeckBase
import NIOCore
import Testing

@testable import LiveEngine

private func parsed(_ text: String) -> ParsedHead {
    var h = ParsedHead()
    let buffer = ByteBuffer(string: text)
    _ = buffer.withUnsafeReadableBytes { parseHead($0, request: true, into: &h) }
    return h
}

private let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)

private func ms(_ n: Int64) -> NIODeadline { t0 + .milliseconds(n) }

private func machine(httpRequest: Int64? = 300, keepAlive: Int64? = 1500, client: Int64? = 5000) -> ClientStateMachine {
    ClientStateMachine(
        timeouts: .init(
            frontend: "web", httpRequest: httpRequest.map { .milliseconds($0) },
            keepAlive: keepAlive.map { .milliseconds($0) }, client: client.map { .milliseconds($0) }),
        now: t0)
}

/// The machine on its own: states, deadlines and actions, with no channel at all.
@Suite("The client connection's state machine, as a value")
struct ClientStateMachineTests {
    @Test func theFirstRequestHasTimeoutHttpRequestAndItsFirstByteRestartsIt() {
        var m = machine()
        #expect(m.nextDeadline == ms(300))
        #expect(m.bytesArrived(now: ms(200)) == .head)
        #expect(m.nextDeadline == ms(500))
        // Later bytes of the same head do not push it.
        #expect(m.bytesArrived(now: ms(400)) == .head)
        #expect(m.nextDeadline == ms(500))
        guard case .none = m.timerFired(now: ms(499)) else {
            Issue.record("fired early")
            return
        }
        guard case .end(let ending) = m.timerFired(now: ms(500)) else {
            Issue.record("no 408")
            return
        }
        #expect(ending.error == .requestTimeout)
        #expect(ending.record?.termination == "cR")
        #expect(m.txn.requestLine == "<BADREQ>")
        #expect(m.txn.start == ms(200))
        #expect(m.isClosed)
        #expect(m.bytesArrived(now: ms(501)) == .drop)
    }

    @Test func withoutTimeoutHttpRequestTimeoutClientApplies() {
        let m = machine(httpRequest: nil, keepAlive: nil, client: 800)
        #expect(m.nextDeadline == ms(800))
    }

    @Test func aBadHeadIs400AndClosesTheConnection() {
        var m = machine()
        let ending = m.requestRejected(reason: "invalid request (bad method): 400", now: ms(5))
        #expect(ending?.error == .badRequest)
        #expect(ending?.record?.status == 400 && ending?.record?.termination == "PR")
        #expect(m.txn.reason == "invalid request (bad method): 400")
        #expect(m.txn.bytesOut == HAProxyErrorResponse.badRequest.wireText.utf8.count)
        #expect(m.isClosed && m.nextDeadline == nil)
        // Nothing more happens once closed.
        #expect(m.requestRejected(reason: "again", now: ms(6)) == nil)
        #expect(m.closed() == nil)
    }

    @Test func contentLengthWithTransferEncodingIs400() {
        var m = machine()
        let h = parsed("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
        guard
            case .end(let ending) = m.requestHead(
                line: "POST / HTTP/1.1", method: "POST", head: h, route: nil, keepAlive: true, local: false,
                now: ms(1), routing: { _ in fatalError("no routing for a refused request") })
        else {
            Issue.record("not refused")
            return
        }
        #expect(ending.error == .badRequest && ending.record?.termination == "PR")
        #expect(m.txn.reason == "request has both Content-Length and Transfer-Encoding: 400")
    }

    @Test func aFrontendWithoutBackendAnswers503() {
        var m = machine()
        guard
            case .end(let ending) = m.requestHead(
                line: "GET / HTTP/1.1", method: "GET", head: parsed("GET / HTTP/1.1\r\n\r\n"), route: nil,
                keepAlive: true, local: false, now: ms(1), routing: { _ in fatalError("no backend") })
        else {
            Issue.record("not 503")
            return
        }
        #expect(ending.error == .serviceUnavailable && ending.record?.termination == "SC")
        #expect(m.txn.reason == "frontend web has no backend: 503")
    }

    @Test func aLocalAnswerWaitsForItsBodyThenKeepsTheConnection() {
        var m = machine()
        let h = parsed("POST /stats HTTP/1.1\r\nContent-Length: 4\r\n\r\n")
        guard
            case .awaitLocalBody = m.requestHead(
                line: "POST /stats HTTP/1.1", method: "POST", head: h, route: nil, keepAlive: true, local: true,
                now: ms(10), routing: { _ in fatalError("answered locally") })
        else {
            Issue.record("does not wait for the body")
            return
        }
        m.startLocalBody(ByteBuffer())
        // The body pushes timeout client; `readAllowed` stays on while it arrives.
        #expect(m.clientDeadline == ms(5010))
        #expect(m.readAllowed(nothingBuffered: false) { _ in false })
        var body = ByteBuffer(string: "s=a")
        guard case .held = m.requestBody(&body, now: ms(20)) else {
            Issue.record("not held")
            return
        }
        #expect(m.clientDeadline == ms(5020))
        body = ByteBuffer(string: "bNEXT")
        guard case .answerLocally = m.requestBody(&body, now: ms(30)) else {
            Issue.record("not answered")
            return
        }
        #expect(String(buffer: body) == "NEXT")
        #expect(m.txn.localBody.map { String(buffer: $0) } == "s=ab")
        #expect(
            m.answeredLocally(status: 303, bytes: 120, reason: "stats page admin action: DONE", now: ms(31)) == false)
        #expect(m.isIdle && m.requestsServed == 1)
        // The next request waits `timeout http-keep-alive`; past it the connection closes silently.
        #expect(m.nextDeadline == ms(1531))
        guard case .end(let ending) = m.timerFired(now: ms(1531)) else {
            Issue.record("not closed")
            return
        }
        #expect(ending.error == nil && ending.record == nil && ending.close)
    }

    @Test func theClientGoingAwayReportsTheRequestInProgressOnce() {
        var m = machine()
        #expect(m.bytesArrived(now: ms(1)) == .head)
        #expect(m.closed()?.record == nil)  // idle: nothing to report
        var n = machine()
        _ = n.requestHead(
            line: "POST /stats HTTP/1.1", method: "POST",
            head: parsed("POST /stats HTTP/1.1\r\nContent-Length: 4\r\n\r\n"), route: nil, keepAlive: true,
            local: true, now: ms(2), routing: { _ in fatalError() })
        let ending = n.closed()
        #expect(ending?.record?.termination == "CD" && ending?.close == false)
        #expect(n.closed() == nil)
    }
}

extension ClientStateMachine.Ending: Equatable {
    public static func == (a: Self, b: Self) -> Bool {
        a.upstream === b.upstream && a.record?.status == b.record?.status
            && a.record?.termination == b.record?.termination && a.error == b.error && a.close == b.close
    }
}
