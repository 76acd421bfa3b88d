import HadeckBase

/// What `Backend.admit` made of a routed request (HAProxy 2.6's assign_server_and_queue()).
public enum Admission: Hashable, Sendable {
    /// The request holds a slot on `decision.server`: connect now.
    case dispatch
    /// It waits in `server`'s queue (nil: the backend's) until a slot frees, or until `deadline`
    /// (`timeout queue`), when HAProxy answers 503 (`sQ`).
    case queued(server: String?, position: Int, deadline: Instant)
    /// HAProxy answers 503 at once: `decision.reason` says why. `queueFull`: the server's queue
    /// holds `maxqueue` requests (HAProxy logs `SQ`); else no server is usable (`SC`).
    case rejected(queueFull: Bool)
}

/// A request leaving a queue for a free slot: its decision now names the server it holds a slot on.
public struct Dequeued: Hashable, Sendable {
    public var request: Int
    public var decision: RoutingDecision
    public var waited: TimeSpan
}

/// A request waiting for a slot.
struct QueuedRequest {
    var id: Int
    var since: Instant
    /// The server's queue it is in (persistence or a hash chose that server), nil for the backend's.
    var server: Int?
    var decision: RoutingDecision
}

/// HAProxy 2.6's connection slots and queues (src/backend.c, src/queue.c).
///
/// A server with `maxconn N` serves at most N requests at once: a request holds its slot from the
/// moment it is assigned (before it connects) until its transaction ends (`finish`). A request
/// whose server was chosen for it (its persistence cookie, or a hash) waits in that server's queue
/// when the server is full, at most `maxqueue` of them; beyond that, a persistent request with
/// `option redispatch` is balanced to another server, otherwise it gets 503. A balanced request
/// goes to a server with a free slot; when every usable server is full it waits in the backend's
/// queue. A freed slot goes to the oldest request of the server's queue or (when the server takes
/// new clients) of the backend's queue. `timeout queue` (else `timeout connect`) bounds the wait.
extension Backend {
    /// `timeout queue`, else `timeout connect` (cfgparse copies it); without either HAProxy waits
    /// without limit: hadeck waits a day.
    public var queueTimeout: TimeSpan { config.timeouts.queue ?? config.timeouts.connect ?? .seconds(86_400) }

    /// Takes a slot for `decision` (as `route` or `connectFailed` left it) or queues request `id`.
    public func admit(_ d: inout RoutingDecision, request id: Int, now: Instant) -> Admission {
        guard let name = d.server else {
            guard d.everyServerFull else { return .rejected(queueFull: false) }
            return enqueue(&d, id, server: nil, now: now)
        }
        guard let i = serverIndex(of: d, named: name) else { return .rejected(queueFull: false) }
        let limit = dynamicMaxconn(i, now: now)
        if limit > 0 && (servers[i].queued > 0 || servers[i].served >= limit) {
            let maxqueue = servers[i].config.maxqueue
            if maxqueue == 0 || servers[i].queued < maxqueue { return enqueue(&d, id, server: i, now: now) }
            let full = "\(name) is at maxconn \(limit) and its queue holds maxqueue \(maxqueue)"
            if d.persistent && config.redispatch {
                // SRV_STATUS_FULL in DIRECT mode with option redispatch: balanced anew.
                balance(
                    &d, avoid: i, prefix: d.reason + "; \(full): option redispatch ", verb: "moves it by ", now: now)
                return admit(&d, request: id, now: now)
            }
            d.server = nil
            d.persistent = false
            d.willInsertCookie = false
            d.reason += "; \(full): 503"
            return .rejected(queueFull: true)
        }
        takeSlot(i, for: &d)
        return .dispatch
    }

    /// The transaction of a request that held a slot ended (answered, failed, or its client left):
    /// the slot goes to the oldest request waiting for that server or for the backend. Releasing
    /// twice is harmless (the decision forgets its slot).
    public func finish(_ d: inout RoutingDecision, now: Instant) -> [Dequeued] {
        guard d.slot != nil else { return [] }
        let i = d.slotIndex
        d.slot = nil
        d.slotIndex = -1
        guard i >= 0 && i < servers.count else { return [] }
        servers[i].served = max(0, servers[i].served - 1)
        return queue.isEmpty ? [] : dispatchWaiting(freed: i, now: now)
    }

    /// A request that waits no more (its client left, or `timeout queue` passed: `reason` says so
    /// and its decision gets 503). Returns its decision, nil when it was not waiting.
    @discardableResult
    public func leaveQueue(request id: Int, timedOut: Bool = false, now: Instant) -> RoutingDecision? {
        guard let k = queue.firstIndex(where: { $0.id == id }) else { return nil }
        let w = queue.remove(at: k)
        uncount(w)
        var d = w.decision
        if timedOut {
            d.server = nil
            d.persistent = false
            d.willInsertCookie = false
            d.reason += "; timeout queue (\(queueTimeout.haproxyText)) expired after \(now - w.since): 503"
        }
        return d
    }

    /// Requests waiting in `server`'s queue, or in the backend's when nil (`qcur`).
    public func queued(for server: String?) -> Int {
        guard let server else { return backendQueued }
        return indexByName[server].map { servers[$0].queued } ?? 0
    }

    /// Requests holding a slot on `server` (HAProxy's `served`).
    public func served(_ server: String) -> Int { indexByName[server].map { servers[$0].served } ?? 0 }

    /// Every waiting request's id, oldest first.
    public var waitingRequests: [Int] { queue.map(\.id) }

    // MARK: helpers

    private func enqueue(_ d: inout RoutingDecision, _ id: Int, server: Int?, now: Instant) -> Admission {
        let position: Int
        if let server {
            servers[server].queued += 1
            servers[server].maxQueued = max(servers[server].maxQueued, servers[server].queued)
            position = servers[server].queued
            d.reason +=
                "; \(servers[server].name) is at maxconn \(dynamicMaxconn(server, now: now)): waits in its queue"
        } else {
            backendQueued += 1
            maxBackendQueued = max(maxBackendQueued, backendQueued)
            position = backendQueued
            d.reason += ": waits in backend \(config.name)'s queue"
        }
        queue.append(QueuedRequest(id: id, since: now, server: server, decision: d))
        return .queued(server: server.map { servers[$0].name }, position: position, deadline: now + queueTimeout)
    }

    private func uncount(_ w: QueuedRequest) {
        if let s = w.server {
            servers[s].queued -= 1
        } else {
            backendQueued -= 1
        }
    }

    /// process_srv_queue(): while server `i` has a free slot, it takes the oldest request waiting for
    /// it, or for the backend when it is usable for balancing (srv_currently_usable()).
    func dispatchWaiting(freed i: Int, now: Instant) -> [Dequeued] {
        var out: [Dequeued] = []
        while !queue.isEmpty, hasFreeSlot(i, now: now) {
            let takesNewClients = usableForBalancing(i, now: now)
            guard let k = queue.firstIndex(where: { $0.server == i || ($0.server == nil && takesNewClients) })
            else { break }
            let w = queue.remove(at: k)
            uncount(w)
            var d = w.decision
            let waited = now - w.since
            if w.server == nil {
                d.server = servers[i].name
                d.persistent = false
                d.willInsertCookie = willInsert(d)
                d.reason += "; after \(waited) a slot freed on \(servers[i].name) -> \(servers[i].name)"
                if d.willInsertCookie, let ck = config.cookie {
                    d.reason += ", new cookie \(ck.name)=\(servers[i].config.cookie ?? "")"
                }
            } else {
                d.reason += "; after \(waited) a slot freed -> \(servers[i].name)"
            }
            d.everyServerFull = false
            d.serverIndex = i
            takeSlot(i, for: &d)
            out.append(Dequeued(request: w.id, decision: d, waited: waited))
        }
        return out
    }

    /// A redispatch moved a request from server `from` to `d.server`: its slot moves too
    /// (sess_change_server()), and the freed one goes to a waiting request.
    func moveSlot(_ d: inout RoutingDecision, from: Int, now: Instant) -> [Dequeued] {
        guard d.slot != nil else { return [] }
        servers[from].served = max(0, servers[from].served - 1)
        if let name = d.server, let j = serverIndex(of: d, named: name) {
            takeSlot(j, for: &d)
        } else {
            d.slot = nil
            d.slotIndex = -1
        }
        return dispatchWaiting(freed: from, now: now)
    }

    /// The index of `d.server` (`name`): the one routing recorded, else found by name.
    private func serverIndex(of d: RoutingDecision, named name: String) -> Int? {
        index(of: name, hint: d.serverIndex)
    }

    /// Request `d` holds one of server `i`'s slots from now on.
    private func takeSlot(_ i: Int, for d: inout RoutingDecision) {
        servers[i].served += 1
        d.slot = servers[i].name
        d.slotIndex = i
    }
}
