import BalancerCore
import NIOCore

/// What the access log says of one request, accumulated while it is handled.
struct Transaction {
    var requestLine = ""
    var method = "GET"
    /// HAProxy's timers: since when the connection waited for the request, when its head was
    /// complete, when the connection to the server started and was made, when the response head came.
    var start: NIODeadline
    var head: NIODeadline?
    var connectStart: NIODeadline?
    var connected: NIODeadline?
    var response: NIODeadline?
    /// When the request entered a queue for a `maxconn` slot, and left it for a server (`%Tw`).
    var queuedSince: NIODeadline?
    var dequeued: NIODeadline?
    /// Its place in the backend's queues (`Backend.admit`'s request id) while it waits.
    var queueTicket: Int?
    var clientHTTP11 = true
    var clientKeepAlive = true
    var closeAfterResponse = false
    /// Whether the request asked to switch protocols (`Connection: upgrade` with `Upgrade`): a 101
    /// answer turns the connection into a tunnel; a 101 to any other request is a broken server (502).
    var upgrade = UpgradeRequest.none
    var request = RequestBody.complete
    var requestBodyBytes = 0
    var route: BackendRoute?
    var decision: RoutingDecision?
    /// The server being tried or used.
    var server: ServerKey?
    /// The head sent to the server (again on a retry).
    var forwardHead: ByteBuffer?
    /// Why the balancer answered as it did, when it is not the routing decision's reason.
    var reason: String?
    /// A response head (or HAProxy's error) went to the client.
    var responseStarted = false
    var status = 0
    var plan: ResponsePlan?
    var serverKeepAlive = true
    var bytesOut = 0
    var retries = 0
    var redispatched = false
    var freshRetryDone = false
    var requestSession: String?
    var responseSession: String?
    var responseCookie: ResponseCookieStatus?
    /// A request the balancer answers itself: its body so far.
    var localBody: ByteBuffer?

    init(start: NIODeadline) { self.start = start }

    /// A new transaction, field by field (assigning a whole new value costs more on the hot path).
    mutating func reset(start: NIODeadline) {
        self.start = start
        head = nil
        connectStart = nil
        connected = nil
        response = nil
        queuedSince = nil
        dequeued = nil
        queueTicket = nil
        request = .complete
        upgrade = .none
        requestBodyBytes = 0
        route = nil
        decision = nil
        server = nil
        forwardHead = nil
        reason = nil
        responseStarted = false
        status = 0
        plan = nil
        serverKeepAlive = true
        bytesOut = 0
        retries = 0
        redispatched = false
        freshRetryDone = false
        requestSession = nil
        responseSession = nil
        responseCookie = nil
        localBody = nil
    }
}

/// What a request asked for in `Connection: upgrade` and `Upgrade`.
enum UpgradeRequest: UInt8 {
    case none
    /// Another protocol than WebSocket (h2c...).
    case other
    /// A WebSocket handshake: the 101 must carry `Sec-WebSocket-Accept` (HAProxy checks it).
    case webSocket

    init(_ h: ParsedHead) {
        self = h.asksUpgrade ? (h.upgradeWebSocket ? .webSocket : .other) : .none
    }
}

/// The earlier of two optional deadlines (no array per call).
@inline(__always)
func earliest(_ a: NIODeadline?, _ b: NIODeadline?) -> NIODeadline? {
    guard let a else { return b }
    guard let b else { return a }
    return a < b ? a : b
}

extension HAProxyErrorResponse {
    /// The bytes of `wireText`.
    var wireLength: Int { wireText.utf8.count }
}
