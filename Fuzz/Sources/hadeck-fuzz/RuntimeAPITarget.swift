import BalancerCore
import HadeckConfig
import NIOEmbedded

@testable import LiveEngine

// The stats socket's command interpreter (HAProxy's CLI), on a balancer with two backends and a
// stats socket, at admin level: one received line per input, on a fresh balancer each time so
// that a finding reproduces from its input alone.

private let config: HAProxyConfig = {
    let text = """
        global
            stats socket /nonexistent/hadeck-fuzz.sock mode 600 level admin
        defaults
            mode http
            timeout connect 1s
            timeout client 5s
            timeout server 5s
        frontend web
            bind 127.0.0.1:8080
            default_backend app
        backend app
            balance roundrobin
            cookie SERVERID insert indirect nocache
            server webA 127.0.0.2:8080 check cookie webA weight 10
            server webB 127.0.0.3:8080 check cookie webB
        backend spare
            server webC 127.0.0.4:8080 disabled

        """
    let (config, diagnostics) = HAProxyConfigParser.parse(text: text, file: "fuzz.cfg")
    precondition(!diagnostics.hasErrors, "the runtime API harness's configuration: \(diagnostics.errors)")
    return config
}()

private let loop = EmbeddedEventLoop()

func fuzzRuntimeAPI(_ data: UnsafeRawBufferPointer) {
    let state = BalancerState(
        name: "lbfuzz", pid: 4242, config: config, clock: LiveClock(origin: loop.now), loop: loop,
        options: BalancerOptions(), callbacks: BalancerCallbacks())
    state.alive = true
    var session = CLISession(level: .admin, timeout: .seconds(10))
    // Lines as the socket hands them over: each newline-terminated line in turn.
    for line in data.split(separator: 10, omittingEmptySubsequences: false) {
        let reply = RuntimeAPI.run(Array(line), session: &session, on: state)
        if reply.close { break }
    }
}
