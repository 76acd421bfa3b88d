import Testing

@testable import WebCore

@Suite struct WebServerTests {
    @Test func sessionsCarryTheJvmRouteAndSurviveOnlyOnTheirServer() throws {
        var webA = WebServer(name: "webA", address: "127.0.2.1:8081", jvmRoute: "jvm3")
        var webB = WebServer(name: "webB", address: "127.0.2.2:8888", jvmRoute: "jvm2")
        let first = webA.handle(path: "/login", cookieHeader: nil)
        #expect(first.newSession)
        #expect(first.session.hasSuffix(".jvm3"))
        #expect(first.setCookies == ["JSESSIONID=\(first.session); Path=/; HttpOnly"])
        let again = webA.handle(path: "/login", cookieHeader: "JSESSIONID=\(first.session)")
        #expect(!again.newSession && again.session == first.session && again.setCookies.isEmpty)
        // The article: a jvm3 session arriving at webB is unknown there, so webB makes a new jvm2 one.
        let moved = webB.handle(path: "/login", cookieHeader: "JSESSIONID=\(first.session)")
        #expect(moved.newSession && moved.session.hasSuffix(".jvm2") && moved.session != first.session)
        webA.kill()
        webA.start()
        #expect(webA.handle(path: "/login", cookieHeader: "JSESSIONID=\(first.session)").newSession)
    }

    @Test func browserKeepsCookiesAndSessionHistory() {
        var b = Browser(name: "c1", address: "127.0.3.2")
        #expect(b.cookieHeader == nil)
        b.receive(setCookies: ["JSESSIONID=X.jvm3; Path=/; HttpOnly", "SRV=A; path=/"])
        #expect(b.cookieHeader == "JSESSIONID=X.jvm3; SRV=A")
        b.receive(setCookies: ["SRV=B; path=/", "JSESSIONID=Y.jvm2; Path=/"])
        #expect(b.cookieHeader == "JSESSIONID=Y.jvm2; SRV=B")
        #expect(b.sessionHistory == ["X.jvm3", "Y.jvm2"])
    }
}
