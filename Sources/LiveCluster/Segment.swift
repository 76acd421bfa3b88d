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
            let route = c.vipRoute()
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
            // Counted until the connection is closed: NIO completes `closeFuture` after the
            // handlers saw the close, so a request the close ends is still counted as the VIP's.
            let client = channel.remoteAddress.map { "\($0.ipAddress ?? "0.0.0.0"):\($0.port ?? 0)" }
            if let client { vipClients[client, default: 0] += 1 }
            let bound = self.bound!
            channel.closeFuture.whenComplete { _ in
                let s = bound.value
                s.adopted[id] = nil
                if let client {
                    s.vipClients[client, default: 1] -= 1
                    if s.vipClients[client] == 0 { s.vipClients[client] = nil }
                }
            }
        case .refused(let host, let reason):
            refuse(channel, via: host.name, reason: reason)
        case .unanswered(let host, let reason):
            // Frames to a MAC nobody owns vanish: the client waits until it gives up.
            _ = channel.setOption(.autoRead, value: false)
            held[id] = (host?.name, channel)
            let bound = self.bound!
            channel.closeFuture.whenComplete { _ in bound.value.held[id] = nil }
            if held.count > options.maxUnansweredConnections, let oldest = held.elements.first {
                held[oldest.key] = nil
                oldest.value.channel.close(promise: nil)
            }
            noteStrangerFailure(channel, via: host?.name, reason: reason)
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
        // Connections that waited for no entry or a dead MAC never reached anyone: the client's
        // retransmitted SYN now reaches the new owner, which answers it like any new connection
        // (its haproxy serves it, or a host without one resets it).
        for (id, entry) in held where entry.host != owner {
            held[id] = nil
            _ = entry.channel.setOption(.autoRead, value: true)
            routeVIPConnection(entry.channel)
        }
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
