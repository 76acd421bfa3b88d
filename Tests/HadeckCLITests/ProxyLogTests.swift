import ArgumentParser
import Logging
import Testing

@testable import HadeckCLI

/// `hadeck proxy`'s standard error speaks HAProxy's shape: `[NOTICE]   (PID) : message`.
@Test func proxyLogLinesHaveHAProxysLabelsPaddingAndPid() {
    func line(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata = [:]) -> String {
        HAProxyStyleLogHandler.line(level: level, pid: 17355, message: message, metadata: metadata)
    }
    // The label column is 11 wide, as haproxy 2.6.12 prints it.
    #expect(line(.notice, "haproxy version is 2.6.12") == "[NOTICE]   (17355) : haproxy version is 2.6.12\n")
    #expect(line(.info, "x") == "[NOTICE]   (17355) : x\n")
    #expect(line(.warning, "Server web/webA is DOWN.") == "[WARNING]  (17355) : Server web/webA is DOWN.\n")
    #expect(line(.error, "cannot listen") == "[ALERT]    (17355) : cannot listen\n")
    #expect(line(.critical, "x") == "[ALERT]    (17355) : x\n")
    #expect(
        line(.debug, "client connection failed", ["error": "reset", "client": "127.0.0.1:1"])
            == "[DEBUG]    (17355) : client connection failed (client=127.0.0.1:1, error=reset)\n")
}

@Test func proxyLogLevelIsAnOption() throws {
    let command = try ProxyCommand.parse(["-f", "h.cfg", "--log-level", "debug"])
    #expect(command.logLevel == .debug)
    #expect(try ProxyCommand.parse(["-f", "h.cfg"]).logLevel == .notice)
    #expect(throws: (any Error).self) { try ProxyCommand.parse(["-f", "h.cfg", "--log-level", "loud"]) }
}
