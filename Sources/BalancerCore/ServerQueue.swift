import HadeckBase

/// HAProxy 2.6's connection limits and queues for one backend, as a value (src/queue.c, backend.c).
///
/// A server with `maxconn N` serves at most N requests at once. A request whose server is chosen
/// by its persistence cookie waits in that server's queue (at most `maxqueue`; beyond it, with
/// `option redispatch` it is balanced to another server, otherwise it gets 503). A balanced
/// request goes to a server with a free slot; when every usable server is full it waits in the
/// backend's queue. A freed slot takes the oldest request of the server's queue or the backend's
/// queue. A request that waited `timeout queue` (or `timeout connect` when unset) gets 503.
public struct ServerQueueModel: Sendable {
    public struct Waiting: Hashable, Sendable {
        public var request: Int
        public var since: Instant
        /// The server's queue it is in, or nil for the backend's queue.
        public var server: String?
    }

    /// What happens to a request that arrives.
    public enum Admission: Hashable, Sendable {
        /// Connect to this server now.
        case dispatch(server: String)
        /// Wait (in this server's queue, or the backend's when nil) until a slot frees or `deadline`.
        case queued(server: String?, position: Int, deadline: Instant)
        /// HAProxy answers 503.
        case rejected(reason: String)
    }

    /// A request leaving the queue.
    public struct Dequeued: Hashable, Sendable {
        public var request: Int
        /// The server it now connects to; nil when it timed out (503).
        public var server: String?
        public var reason: String
    }

    struct Slot: Sendable {
        var maxconn: Int
        var maxqueue: Int
        var served = 0
    }

    private var slots: [String: Slot] = [:]
    private var order: [String] = []
    private var queue: [Waiting] = []
    public let queueTimeout: TimeSpan
    public let redispatch: Bool

    /// Limits from the backend's servers; `timeout queue` falls back to `timeout connect`, then to
    /// HAProxy's behaviour without either (no timeout: hadeck uses a day).
    public init(backend: BackendConfig) {
        for s in backend.servers {
            slots[s.name] = Slot(maxconn: s.maxconn, maxqueue: s.maxqueue)
            order.append(s.name)
        }
        queueTimeout = backend.timeouts.queue ?? backend.timeouts.connect ?? .seconds(86_400)
        redispatch = backend.redispatch
    }

    /// Requests being served by `server`.
    public func served(_ server: String) -> Int { slots[server]?.served ?? 0 }
    /// Whether `server` can take one more request now.
    public func hasFreeSlot(_ server: String) -> Bool {
        guard let s = slots[server] else { return false }
        return s.maxconn == 0 || s.served < s.maxconn
    }
    /// Requests waiting for `server` (nil: in the backend's queue).
    public func queued(for server: String?) -> Int { queue.filter { $0.server == server }.count }
    /// Everything waiting, oldest first.
    public var waiting: [Waiting] { queue }
    /// When the oldest waiting request times out.
    public var nextDeadline: Instant? { queue.map { $0.since + queueTimeout }.min() }

    /// Admits request `id`. `persistent` is the server its cookie names (if it is usable);
    /// `balanced` is the balancer's pick among servers with a free slot (ask `hasFreeSlot`), nil
    /// when there is none; `anyUsable` says whether any server could take traffic at all.
    public mutating func admit(
        request id: Int, persistent: String?, balanced: String?, anyUsable: Bool, now: Instant
    ) -> Admission {
        if let server = persistent, slots[server] != nil {
            if hasFreeSlot(server) && !queue.contains(where: { $0.server == server }) {
                slots[server]!.served += 1
                return .dispatch(server: server)
            }
            let limit = slots[server]!.maxqueue
            if limit == 0 || queued(for: server) < limit {
                queue.append(Waiting(request: id, since: now, server: server))
                return .queued(server: server, position: queued(for: server), deadline: now + queueTimeout)
            }
            if !redispatch {
                return .rejected(reason: "server \(server) is full and its queue holds maxqueue \(limit) requests")
            }
        }
        if let server = balanced, hasFreeSlot(server) {
            slots[server]!.served += 1
            return .dispatch(server: server)
        }
        guard anyUsable else { return .rejected(reason: "no server is available") }
        queue.append(Waiting(request: id, since: now, server: nil))
        return .queued(server: nil, position: queued(for: nil), deadline: now + queueTimeout)
    }

    /// `server` finished a request: its slot goes to the oldest request waiting for it or for the backend.
    public mutating func release(server: String, now: Instant) -> Dequeued? {
        guard slots[server] != nil else { return nil }
        slots[server]!.served = max(0, slots[server]!.served - 1)
        guard hasFreeSlot(server),
            let index = queue.firstIndex(where: { $0.server == server || $0.server == nil })
        else { return nil }
        let next = queue.remove(at: index)
        slots[server]!.served += 1
        let waited = now - next.since
        return Dequeued(
            request: next.request, server: server,
            reason: "waited \(waited) in \(next.server == nil ? "the backend's" : "\(server)'s") queue for a free slot"
        )
    }

    /// A request that gave up (client closed) leaves the queue.
    public mutating func cancel(request id: Int) { queue.removeAll { $0.request == id } }

    /// Requests whose `timeout queue` expired by `now`, oldest first: HAProxy answers them 503.
    public mutating func expire(now: Instant) -> [Dequeued] {
        var out: [Dequeued] = []
        queue.removeAll { w in
            guard w.since + queueTimeout <= now else { return false }
            out.append(
                Dequeued(
                    request: w.request, server: nil,
                    reason: "timeout queue (\(queueTimeout)) expired waiting for \(w.server ?? "a server")"))
            return true
        }
        return out
    }
}
