import BalancerCore
import Foundation
import HadeckBase
import HadeckTestSupport
import LiveEngine
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("Stats page: HTML, CSV and the admin form, served by the balancer", .serialized, .onItsOwnThread)
struct StatsPageTests {
    @Test func pageShowsNodePidAndServerStatesAndCSVMatchesShowStat() async throws {
        let c = try await StatsCluster.start(net: 68)
        defer { Task { await c.stop() } }
        #expect(await c.waitFor(server: "webA", status: "UP"))
        #expect(await c.waitFor(server: "webB", status: "UP"))
        #expect(await cli(c.socket, "set server web/webB state maint") == "\n")

        let servedBefore = await c.webA.requestsServed + c.webB.requestsServed
        let fetchStarted = ContinuousClock.now
        let page = try #require(try await c.http(get("/haproxy-stats")))
        #expect(page.status == 200)
        #expect(page.value("content-type")?.hasPrefix("text/html") == true)
        let html = page.bodyText
        #expect(html.contains("<title>Statistics Report for pid 9068 on node68</title>"))
        #expect(html.contains("<meta http-equiv=\"refresh\" content=\"5\">"))
        let dom = try #require(parseStatsDOM(html))
        #expect(
            dom
                == StatsPageDOM(
                    node: "node68", pid: 9068, servers: ["webA": "UP", "webB": "MAINT"],
                    serverClasses: ["webA": "active_up", "webB": "maintain"]))
        #expect(html.contains("L7OK/200 in "))
        #expect(html.contains("s UP</td>"))
        // Admin form, as HAProxy 2.6 names its fields.
        #expect(html.contains("<input class='web-checkbox' type=\"checkbox\" name=\"s\" value=\"webA\">"))
        #expect(html.contains("<option value=\"maint\">Set state to MAINT</option>"))
        #expect(html.contains("<input type=\"hidden\" name=\"b\" value=\"#2\">"))
        // The page is not proxied: the app servers saw no request but their checks (one per server
        // every 100 ms), however long a loaded machine took over the page.
        let servedSince = await c.webA.requestsServed + c.webB.requestsServed - servedBefore
        let checksSince = 2 * (Int((ContinuousClock.now - fetchStarted) / .milliseconds(100)) + 2)
        #expect(servedSince <= checksSince)
        #expect(page.value("x-served-by") == nil)

        let csv = try #require(try await c.http(get("/haproxy-stats;csv")))
        #expect(csv.status == 200)
        #expect(csv.value("content-type") == "text/plain")
        let socketCSV = try #require(await cli(c.socket, "show stat"))
        #expect(csv.bodyText.split(separator: "\n").first == socketCSV.split(separator: "\n").first)
        let pageRows = statRows(csv.bodyText)
        #expect(pageRows.map { $0["svname"] ?? "" } == ["FRONTEND", "webA", "webB", "BACKEND"])
        #expect(pageRows.first { $0["svname"] == "webB" }?["status"] == "MAINT")
        let noRefresh = try #require(try await c.http(get("/haproxy-stats;norefresh")))
        #expect(!noRefresh.bodyText.contains("http-equiv=\"refresh\""))
    }

    @Test func adminFormPostChangesServersLikeTheSocketAndRedirects() async throws {
        let c = try await StatsCluster.start(net: 69)
        defer { Task { await c.stop() } }
        #expect(await c.waitFor(server: "webA", status: "UP"))
        #expect(await c.waitFor(server: "webB", status: "UP"))
        let form = "s=webA&s=webB&action=drain&b=%232"
        let post =
            "POST /haproxy-stats HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + "Content-Length: \(form.utf8.count)\r\n\r\n\(form)"
        let reply = try #require(try await c.http(post))
        #expect(reply.status == 303)
        #expect(reply.value("location") == "/haproxy-stats;st=DONE")
        #expect(await c.status("webA") == "DRAIN")
        #expect(await c.status("webB") == "DRAIN")
        let changes = c.adminChanges.all
        #expect(changes.count == 2)
        #expect(changes.allSatisfy { $0.source == .statsPage && $0.change == .adminState(from: .ready, to: .drain) })
        #expect(changes.first?.why.hasPrefix("stats page set webA to DRAIN: ") == true)
        let done = try #require(try await c.http(get("/haproxy-stats;st=DONE")))
        #expect(done.bodyText.contains("data-status=\"DONE\""))
        #expect(done.bodyText.contains("Action processed successfully."))

        // Bad forms: unknown backend, unknown action, nothing selected.
        for (body, code) in [
            ("s=webA&action=maint&b=%2399", "ERRP"), ("s=webA&action=explode&b=%232", "ERRP"),
            ("action=maint&b=%232", "NONE"),
        ] {
            let request =
                "POST /haproxy-stats HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            #expect(try await c.http(request)?.value("location") == "/haproxy-stats;st=\(code)")
        }
        #expect(await c.status("webA") == "DRAIN")
    }

    @Test func withoutStatsAdminThePostIsDenied() async throws {
        let c = try await StatsCluster.start(net: 70, admin: false)
        defer { Task { await c.stop() } }
        let body = "s=webA&action=maint&b=%232"
        let request = "POST /haproxy-stats HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        #expect(try await c.http(request)?.value("location") == "/haproxy-stats;st=DENY")
        #expect(await c.status("webA") != "MAINT")
        #expect(c.adminChanges.all.isEmpty)
        #expect(try await c.http(get("/haproxy-stats"))?.bodyText.contains("name=\"action\"") == false)
    }

    static var chromium: Bool { chromiumPath != nil }

    @Test(.enabled(if: chromium, "needs chromium (apt-get install chromium)"))
    func chromiumRendersTheStateAndAScreenshotIsTaken() async throws {
        let c = try await StatsCluster.start(net: 71)
        defer { Task { await c.stop() } }
        #expect(await c.waitFor(server: "webA", status: "UP"))
        #expect(await c.waitFor(server: "webB", status: "UP"))
        for _ in 0..<6 { _ = try await c.http(get("/login")) }
        #expect(await cli(c.socket, "set server web/webB state maint") == "\n")

        let dom = try #require(await statsPageInChromium(c.pageURL))
        #expect(dom.node == "node71")
        #expect(dom.pid == 9071)
        #expect(dom.servers == ["webA": "UP", "webB": "MAINT"])
        #expect(dom.serverClasses == ["webA": "active_up", "webB": "maintain"])

        // A screenshot renders (the README's picture is taken through the VIP by LiveClusterTests).
        let path = NSTemporaryDirectory() + "hadeck-stats-\(getpid()).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let profile = "/tmp/hadeck-chromium-shot-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: profile) }
        let shot = await runDetached(
            [
                try #require(chromiumPath), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--hide-scrollbars", "--user-data-dir=\(profile)", "--screenshot=\(path)", "--window-size=1280,900",
                c.pageURL + ";norefresh",
            ], timeout: 60)
        #expect(shot.status == 0)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        #expect(size > 10_000)
    }
}
