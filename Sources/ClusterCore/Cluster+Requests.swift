import BalancerCore
import ClusterModel
import HadeckBase
import WebCore

/// A request between the balancer's routing decision and its answer (retries wait here).
struct PendingRequest {
    var id: Int
    var client: Int
    var host: String
    var pid: Int
    var backend: String
    var started: Instant
    var route: RoutingDecision
    /// The first decision's reason, kept when retries change the route.
    var firstReason: String
    /// The app serving it, once connected.
    var webIndex: Int? = nil
    /// Waiting in a queue for a `maxconn` slot (`Backend.admit`).
    var queued = false
    /// The client gave up on it (`clientTimeout`) and closed its connection: haproxy carries on
    /// (retrying, redispatching, forwarding), but its answer reaches nobody, so the client's jar
    /// takes none of its cookies.
    var abandoned = false
}

extension Cluster {
    /// Time between two requests of the whole client population.
    var trafficInterval: TimeSpan {
        TimeSpan(micros: max(1, Int64((1_000_000 / max(trafficRate, 0.001)).rounded())))
    }

    func scheduleTraffic() {
        trafficGeneration += 1
        guard trafficOn, trafficRate > 0 else { return }
        scheduler.schedule(.clientRequest(generation: trafficGeneration), at: now)
    }

    func setClientCount(_ n: Int) {
        while browsers.count < n {
            let i = browsers.count + 1
            browsers.append(Browser(name: "c\(i)", address: "127.0.3.\(i % 250 + 1)"))
        }
        if browsers.count > n {
            browsers.removeLast(browsers.count - n)
            busyClients = busyClients.filter { $0 < n }
        }
    }

    /// Sends one request from a browser to the VIP, now. A browser waiting for an answer sends nothing.
    func sendRequest(from index: Int) {
        guard !busyClients.contains(index) else { return }
        requestsSent += 1
        let client = browsers[index]
        busyClients.insert(index)
        dataPlane.sendRequest(
            browser: index, name: client.name, address: client.address, cookieHeader: client.cookieHeader)
    }

    /// The simulated network's request: the VIP's route, the balancer's decision, the app's answer
    /// after its service time, all in virtual time.
    func simulateRequest(from index: Int) {
        let client = browsers[index]
        let vip = spec.vip
        let host: BalancerHost
        switch routeNewConnection() {
        case .unanswered(let h, let reason):
            if let timeout = clientTimeout {
                scheduler.schedule(
                    .clientGaveUp(client: index, via: h?.name, reason: reason, after: timeout), at: now + timeout)
                return
            }
            return browserFailed(index, via: h?.name, reason: reason, latency: .zero)
        case .refused(let h, let reason): return browserFailed(index, via: h.name, reason: reason, latency: .zero)
        case .balancer(let h, _): host = h
        }
        let facts = RequestFacts(
            method: "GET", target: "/login",
            headers: [("Host", vip.description)] + (client.cookieHeader.map { [("Cookie", $0)] } ?? []),
            source: client.address)
        guard let hp = host.haproxy, let decision = hp.decide(port: vip.port, request: facts, now: now) else {
            return browserFailed(
                index, via: host.name,
                reason: "connection refused: \(host.name)'s haproxy listens on no port \(vip.port)", latency: .zero)
        }
        // The frontend's own answers (deny, redirect, return) and a missing backend end here.
        let frontendReason = hp.hasRules(port: vip.port) ? decision.reason + "; " : ""
        let backend: String
        switch decision.outcome {
        case .backend(let name): backend = name
        case .deny(let status), .tarpit(let status), .redirect(let status, _, _), .return(let status, _, _):
            busyClients.remove(index)
            return finishRequest(
                index, host: host, server: nil, status: status, session: client.session, reason: decision.reason,
                started: now)
        case .noBackend:
            busyClients.remove(index)
            return finishRequest(
                index, host: host, server: nil, status: 503, session: client.session,
                reason: decision.reason + ": 503", started: now)
        }
        var route = hp.route(
            backend: backend, cookieHeader: client.cookieHeader, clientAddress: client.address, now: now)
        route.reason = frontendReason + route.reason
        let id = nextRequestID
        nextRequestID += 1
        let admission = hp.admit(backend: backend, &route, request: id, now: now)
        if case .rejected = admission {
            busyClients.remove(index)
            return finishRequest(
                index, host: host, server: nil, status: 503, session: client.session, reason: route.reason, started: now
            )
        }
        pending[id] = PendingRequest(
            id: id, client: index, host: host.name, pid: hp.pid, backend: backend, started: now, route: route,
            firstReason: route.reason)
        if let timeout = clientTimeout {
            scheduler.schedule(.clientAbandoned(requestID: id, after: timeout), at: now + timeout)
        }
        if case .queued(_, _, let deadline) = admission {
            pending[id]?.queued = true
            scheduler.schedule(.queueTimeout(requestID: id), at: deadline)
            return
        }
        attempt(requestID: id)
    }

    /// Request `id`'s transaction ended on `hp`: its maxconn slot goes to the oldest waiting
    /// request, which connects now.
    func releaseSlot(_ p: inout PendingRequest, on hp: HAProxyProcess) {
        resume(hp.finish(backend: p.backend, &p.route, now: now))
    }

    /// Queued requests that got a slot: they connect now.
    func resume(_ dequeued: [Dequeued]) {
        for d in dequeued {
            guard var p = pending[d.request] else { continue }
            p.route = d.decision
            p.queued = false
            pending[d.request] = p
            attempt(requestID: d.request)
        }
    }

    /// `timeout queue` passed for a request still waiting for a slot: haproxy answers 503 (`sQ`).
    func queueTimedOut(requestID id: Int) {
        guard let p = pending[id], p.queued else { return }
        pending[id] = nil
        guard let host = host(named: p.host), host.poweredOn, let hp = host.haproxy, hp.pid == p.pid else {
            if p.abandoned { return }
            busyClients.remove(p.client)
            return requestFailed(p.client, via: p.host, "\(p.host)'s haproxy went away while the request was queued")
        }
        let decision = hp.leaveQueue(backend: p.backend, request: id, timedOut: true, now: now)
        if p.abandoned { return }
        busyClients.remove(p.client)
        finishRequest(
            p.client, host: host, server: nil, status: 503, session: browsers[p.client].session,
            reason: decision?.reason ?? p.route.reason + "; timeout queue: 503", started: p.started)
    }

    /// The client's timeout passed with request `id` still in haproxy (waiting for a connect
    /// retry, typically): the client counts it failed and sends its next one; haproxy carries on.
    func abandon(requestID id: Int, after timeout: TimeSpan) {
        guard var p = pending[id], !p.abandoned else { return }
        p.abandoned = true
        pending[id] = p
        // A queued request whose client left leaves the queue (HAProxy's `CQ`).
        if p.queued, let hp = host(named: p.host)?.haproxy, hp.pid == p.pid {
            pending[id] = nil
            _ = hp.leaveQueue(backend: p.backend, request: id, timedOut: false, now: now)
        }
        let retrying = p.route.attempts > 0 ? ", haproxy still retrying (\(p.route.attempts) failed connects)" : ""
        browserFailed(
            p.client, via: p.host,
            reason: p.firstReason
                + "; no answer within \(formatSeconds(timeout.micros)) s\(retrying): the client gave up",
            latency: timeout)
    }

    func attempt(requestID id: Int) {
        guard var p = pending[id] else { return }
        guard let host = host(named: p.host), host.poweredOn, let hp = host.haproxy, hp.pid == p.pid else {
            pending[id] = nil
            if p.abandoned { return }
            busyClients.remove(p.client)
            return requestFailed(p.client, via: p.host, "\(p.host)'s haproxy went away while the request was in flight")
        }
        guard p.client < browsers.count, let serverName = p.route.server else {
            pending[id] = nil
            busyClients.remove(p.client)
            return releaseSlot(&p, on: hp)
        }
        let serverAddress = hp.address(ofServer: serverName, backend: p.backend)
        let webIndex = serverAddress.flatMap { webServerIndex.byAddress[$0] } ?? webServerIndex.byName[serverName]
        if let webIndex, webServers[webIndex].running {
            // Connected: the app answers after its service time; the connection counts meanwhile (leastconn).
            hp.connectionOpened(backend: p.backend, server: serverName)
            p.webIndex = webIndex
            pending[id] = p
            scheduler.schedule(.respond(requestID: id), at: now + serviceTime())
            return
        }
        // Connection refused: the core decides between retrying, redispatching and giving up.
        switch hp.connectFailed(backend: p.backend, route: p.route, now: now) {
        case .retry(let route, let delay, let dequeued):
            p.route = route
            pending[id] = p
            scheduler.schedule(.attempt(requestID: id), at: now + delay)
            resume(dequeued)
        case .giveUp(let status, let reason):
            pending[id] = nil
            releaseSlot(&p, on: hp)
            if p.abandoned { return }
            busyClients.remove(p.client)
            finishRequest(
                p.client, host: host, server: p.route.server, status: status, session: browsers[p.client].session,
                reason: reason, started: p.started)
        }
    }

    /// Keeps a request in the history and reports it as a `request` event.
    func record(_ r: RequestRecord, why: String) {
        keep(r)
        emit(.request(r), why: why)
    }

    private func keep(_ r: RequestRecord) {
        if let via = r.via, let server = r.server, r.status > 0 {
            requestMeter.count(meterSlot(via: via, server: server), at: r.time)
        } else {
            requestMeter.count(nil, at: r.time)
        }
        // Above `readableRequestRate` the history keeps 1 request in N (failures always), so the
        // requests panel stays readable and cheap; the snapshot says which N.
        let second = r.time.micros / 1_000_000
        if second != samplingSecond {
            samplingSecond = second
            requestSampling = max(1, Int((requestMeter.rates(at: r.time).total / readableRequestRate).rounded()))
        }
        sampledOut += 1
        guard r.status == 0 || r.status >= 500 || sampledOut >= requestSampling else { return }
        sampledOut = 0
        recentRequests.append(r)
        if recentRequests.count > requestHistoryLimit + requestHistoryLimit / 4 {
            recentRequests.removeFirst(recentRequests.count - requestHistoryLimit)
        }
    }

    /// The app's answer to a connected request.
    func respond(requestID id: Int) {
        guard var p = pending.removeValue(forKey: id), let webIndex = p.webIndex, let serverName = p.route.server else {
            return
        }
        if !p.abandoned { busyClients.remove(p.client) }
        guard let host = host(named: p.host), host.poweredOn, let hp = host.haproxy, hp.pid == p.pid else {
            if p.abandoned { return }
            return requestFailed(p.client, via: p.host, "\(p.host)'s haproxy went away while the request was in flight")
        }
        hp.connectionClosed(backend: p.backend, server: serverName)
        releaseSlot(&p, on: hp)
        guard p.client < browsers.count, !p.abandoned else { return }
        guard webServers[webIndex].running else {
            // The app died with the request inside: haproxy sees the server close and answers 502.
            return finishRequest(
                p.client, host: host, server: serverName, status: 502, session: browsers[p.client].session,
                reason: p.route.reason + "; \(serverName) died before answering: 502", started: p.started)
        }
        let forwarded = p.route.forwardedCookieHeaders.filter { !$0.isEmpty }
        let response = webServers[webIndex].handle(
            path: "/login", cookieHeader: forwarded.isEmpty ? nil : forwarded.joined(separator: "; "))
        let setCookies = hp.responseSetCookies(
            backend: p.backend, route: p.route, serverSetCookies: response.setCookies)
        let before = browsers[p.client].session
        browsers[p.client].receive(setCookies: setCookies)
        if let before, before != browsers[p.client].session { sessionChanges += 1 }
        var reason = p.route.reason == p.firstReason ? p.firstReason : p.firstReason + "; " + p.route.reason
        if response.newSession, let before {
            reason += "; \(serverName) does not know session \(before): new session"
        }
        finishRequest(
            p.client, host: host, server: serverName, status: response.status, session: response.session,
            reason: reason,
            started: p.started)
    }

    // MARK: - Live requests

    /// A live browser's answer arrived: its jar takes the cookies (a changed session id is counted).
    public func browserReceived(_ index: Int, setCookies: [String]) {
        busyClients.remove(index)
        guard index < browsers.count else { return }
        let before = browsers[index].session
        browsers[index].receive(setCookies: setCookies)
        if let before, before != browsers[index].session { sessionChanges += 1 }
    }

    /// A live browser's request got no answer (refused, reset, timed out) after `latency`; `reason` says why.
    public func browserFailed(_ index: Int, via: String?, reason: String, latency: TimeSpan) {
        busyClients.remove(index)
        guard index < browsers.count else { return }
        requestFailed(index, via: via, reason, latency: latency)
    }

    /// The browser whose source address is `ip`, if it is one of the built-in ones.
    public func browserName(address ip: String) -> String? { browsers.first { $0.address == ip }?.name }

    /// A request a live balancer answered (from any client: built-in browser, curl, a browser).
    public func recordLiveRequest(
        client: String, via: String, server: String?, status: Int, session: String?, reason: String,
        latency: TimeSpan, requestLine: String, entry: RequestEntry? = nil
    ) {
        if status >= 500 || status == 0 { requestsFailed += 1 }
        if status > 0 { confirmVIPNeighbour(answeredBy: via) }
        record(
            RequestRecord(
                time: now, client: client, via: via, server: server, status: status, session: session, reason: reason,
                latency: latency, requestLine: requestLine, entry: entry),
            why: "\(client) sent \(requestLine) to \(via)'s haproxy, which routed it")
    }

    /// A connection to the VIP from another client (curl, a browser) that no haproxy served.
    public func recordUnservedConnection(client: String, via: String?, reason: String) {
        requestsFailed += 1
        record(
            RequestRecord(
                time: now, client: client, via: via, server: nil, status: 0, session: nil, reason: reason,
                latency: .zero),
            why: "\(client) connected to the VIP \(spec.vip) and got no service")
    }

    /// How long the simulated app takes to answer: 1 to 4 ms, from a seeded generator (deterministic).
    func serviceTime() -> TimeSpan {
        .microseconds(1_000 + Int64(latencyGenerator.next() % 3_000))
    }

    func requestFailed(_ client: Int, via: String?, _ reason: String, latency: TimeSpan = .zero) {
        requestsFailed += 1
        let b = browsers[client]
        record(
            RequestRecord(
                time: now, client: b.name, via: via, server: nil, status: 0, session: b.session, reason: reason,
                latency: latency),
            why: "\(b.name) sent GET /login to the VIP \(spec.vip) and got no answer")
    }

    func finishRequest(
        _ client: Int, host: BalancerHost, server: String?, status: Int, session: String?, reason: String,
        started: Instant
    ) {
        if status > 0 { confirmVIPNeighbour(answeredBy: host.name) }
        if status >= 500 || status == 0 { requestsFailed += 1 }
        let b = browsers[client]
        record(
            RequestRecord(
                time: now, client: b.name, via: host.name, server: server, status: status, session: session,
                reason: reason, latency: now - started),
            why:
                "\(b.name) sent GET /login to the VIP; the ARP cache maps it to \(host.name)'s MAC, so \(host.name)'s haproxy routed it"
        )
    }

    /// What a health check of a simulated server sees, and how long it takes.
    func checkOutcome(_ check: PendingCheck) -> (TimeSpan, CheckOutcome) {
        let web = webServers.first { $0.address == check.address } ?? webServers.first { $0.name == check.server }
        guard let web, web.running else { return (.microseconds(100), .refused) }
        return (.milliseconds(1), check.isHTTP ? .httpStatus(web.healthStatus) : .connected)
    }
}
