import BalancerCore
import ClusterCore
import HadeckBase
import LiveEngine
import NIOCore
import NIOPosix
import OrderedCollections
import VRRPCore

/// The client segment on loopback: each host's VRRP socket and the VIP's one listening address.
extension LiveClusterState {
    /// One UDP socket per host on its own address: keepalived's adverts go out and come in there.
    func openVRRPSockets() -> EventLoopFuture<Void> {
        let bound = self.bound!
        var chain = loop.makeSucceededVoidFuture()
        for host in spec.hosts {
            let name = host.name
            let address = host.address
            let port = options.vrrpPort
            chain = chain.flatMap {
                // No SO_REUSEADDR: for UDP it would let a second hadeck share (and steal) the adverts.
                DatagramBootstrap(group: bound.value.loop)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                VRRPReceiver(host: name, state: bound))
                        }
                    }
                    .bind(host: address, port: port)
                    .flatMapErrorThrowing { error in
                        throw LiveClusterError.cannotListen(
                            what: "\(name)'s VRRP socket", address: "\(address):\(port) (UDP)",
                            reason: describeNetworkError(error))
                    }
                    .map { channel in bound.value.vrrpChannels[name] = channel }
            }
        }
        return chain
    }

    /// Feeds a datagram to the receiving host's keepalived, as the core says (partitions drop it).
    func receiveVRRP(_ bytes: [UInt8], host: String, from address: String) {
        withCore { c in
            guard let target = c.host(named: host) else { return }
            let unicast = target.keepalivedConfig.instances.first?.unicastPeers.isEmpty == false
            c.receiveAdvert(
                bytes, to: host, fromAddress: address,
                destination: unicast ? target.address : VRRPCodec.multicastGroup)
        }
    }

    /// The VIP's listening socket. Each connection goes to the haproxy of the host whose MAC the ARP
    /// cache gives for the VIP, on this same loop (no second TCP hop).
    func openVIPListener() -> EventLoopFuture<Void> {
        let bound = self.bound!
        let vip = spec.vip
        return ServerBootstrap(group: loop)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { bound.value.acceptVIP(channel) }
            }
            .bind(host: vip.host, port: vip.port)
            .flatMapErrorThrowing { error in
                throw LiveClusterError.cannotListen(
                    what: "the VIP", address: vip.description, reason: describeNetworkError(error))
            }
            .map { channel in bound.value.vipListener = channel }
    }

    func acceptVIP(_ channel: Channel) {
        guard !stopped, cluster != nil else { return channel.close(promise: nil) }
        routeVIPConnection(channel)
    }

    /// Hands a VIP connection to whoever the ARP entry names now: that host's haproxy, a reset, or
    /// nobody (held until the entry moves or the client gives up).
    private func routeVIPConnection(_ channel: Channel) {
        var outcome: (route: VIPRoute, balancer: Balancer?)?
        withCore { c in
            let route = c.routeNewConnection()
            var balancer: Balancer?
            if case .balancer(let host, _) = route { balancer = balancers[host.name] }
            outcome = (route, balancer)
        }
        guard let outcome else { return channel.close(promise: nil) }
        let id = ObjectIdentifier(channel)
        switch outcome.route {
        case .balancer(let host, let frontend):
            guard let balancer = outcome.balancer, (try? balancer.adopt(channel: channel, frontend: frontend)) != nil
            else {
                return refuse(
                    channel, via: host.name, reason: "connection refused: \(host.name)'s haproxy is not listening yet")
            }
            adopted[id] = (host.name, channel)
            let bound = self.bound!
            channel.closeFuture.whenComplete { _ in bound.value.adopted[id] = nil }
        case .refused(let host, let reason):
            refuse(channel, via: host.name, reason: reason)
        case .unanswered(let host, let reason):
            // Frames to a MAC nobody owns, or to a host without the address, vanish: the client
            // retransmits its SYN until it gives up.
            _ = channel.setOption(.autoRead, value: false)
            hold(HeldConnection(host: host?.name, channel: channel, establishedWith: nil, blackHole: nil))
            noteStrangerFailure(channel, via: host?.name, reason: reason)
        }
    }

    private func hold(_ entry: HeldConnection) {
        let id = ObjectIdentifier(entry.channel)
        held[id] = entry
        let bound = self.bound!
        entry.channel.closeFuture.whenComplete { _ in bound.value.held[id] = nil }
        if held.count > options.maxUnansweredConnections, let oldest = held.elements.first {
            held[oldest.key] = nil
            oldest.value.blackHole?.release()
            oldest.value.channel.close(promise: nil)
        }
    }

    /// `host` lost the VIP: packets of its established VIP connections reach a host without the
    /// address and are dropped both ways (no reset, no answer); its haproxy keeps the sessions.
    func blackHoleConnections(of host: String) {
        for (id, entry) in adopted where entry.host == host {
            adopted[id] = nil
            let hole = BlackHoleHandler()
            try? entry.channel.pipeline.syncOperations.addHandler(hole, position: .first)
            _ = entry.channel.setOption(.autoRead, value: false)
            hold(HeldConnection(host: host, channel: entry.channel, establishedWith: host, blackHole: hole))
        }
    }

    /// The VIP's entry or its holders changed: held connections reach a host that answers for the VIP
    /// again. One never answered is served like a new connection (its SYN is retransmitted); an
    /// established one is unknown to that host's kernel and is reset.
    func rerouteHeld() {
        let ip = spec.vip.host
        guard let owner = cluster.vipOwner, owner.holds(ip) else { return }
        for (id, entry) in held {
            held[id] = nil
            if entry.establishedWith != nil {
                reset(entry.channel, releasing: entry.blackHole)
            } else {
                _ = entry.channel.setOption(.autoRead, value: true)
                routeVIPConnection(entry.channel)
            }
        }
    }

    private func refuse(_ channel: Channel, via: String, reason: String) {
        noteStrangerFailure(channel, via: via, reason: reason)
        reset(channel)
    }

    /// A client other than the built-in browsers (which report their own failures) got no service.
    private func noteStrangerFailure(_ channel: Channel, via: String?, reason: String) {
        guard let remote = channel.remoteAddress, let ip = remote.ipAddress, cluster.browserName(address: ip) == nil
        else { return }
        cluster.recordUnservedConnection(client: "\(ip):\(remote.port ?? 0)", via: via, reason: reason)
    }

    /// The ARP entry moved: connections another host's haproxy holds are now answered by the new
    /// owner, which knows nothing of them and resets them (as a real host does).
    func vipMoved() {
        let owner = cluster.vipOwner?.name
        for (id, entry) in adopted where entry.host != owner {
            adopted[id] = nil
            reset(entry.channel)
        }
        rerouteHeld()
    }
}

/// Receives one host's VRRP datagrams.
final class VRRPReceiver: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let host: String
    let state: NIOLoopBound<LiveClusterState>

    init(host: String, state: NIOLoopBound<LiveClusterState>) {
        self.host = host
        self.state = state
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let ip = envelope.remoteAddress.ipAddress else { return }
        let bytes = Array(envelope.data.readableBytesView)
        state.value.receiveVRRP(bytes, host: host, from: ip)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A datagram error (e.g. ICMP unreachable on loopback) is not fatal for the socket.
    }
}

/// A VIP connection the network does not deliver now: never answered (the client is still sending
/// its SYN), or established with a host that has since lost the address.
struct HeldConnection {
    /// The host whose MAC the ARP entry named.
    var host: String?
    var channel: Channel
    /// The host whose haproxy has the session, for an established connection.
    var establishedWith: String?
    /// Swallows both directions of an established connection while its packets go nowhere.
    var blackHole: BlackHoleHandler?
}

/// First in a connection's pipeline: while closed, what the client sends is dropped, and what the
/// haproxy behind writes (or its close) never leaves the host, as for packets to or from an address
/// the host no longer has. The client notices only by its own timeout. `release` opens it again.
final class BlackHoleHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias InboundOut = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private var swallowing = true
    private var context: ChannelHandlerContext?
    private var heldClose: (CloseMode, EventLoopPromise<Void>?)?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !swallowing { context.fireChannelRead(data) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if swallowing { return promise?.succeed() ?? () }
        context.write(data, promise: promise)
    }

    func flush(context: ChannelHandlerContext) {
        if !swallowing { context.flush() }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard swallowing else { return context.close(mode: mode, promise: promise) }
        if let (_, earlier) = heldClose, let earlier, let promise { earlier.futureResult.cascade(to: promise) }
        heldClose = heldClose ?? (mode, promise)
    }

    /// Lets events through again, and performs a close that was held back.
    func release() {
        guard swallowing else { return }
        swallowing = false
        if let context, let (mode, promise) = heldClose {
            heldClose = nil
            context.close(mode: mode, promise: promise)
        }
    }
}
