import HadeckBase
import HostNetwork
import NIOCore
import NIOPosix
import VRRPCore

#if canImport(Glibc)
    import Glibc
#endif

/// The raw IPv4 socket of protocol 112 a keepalived opens on its interface, through NIO's raw socket
/// bootstrap. The kernel builds each IP header (its id and checksum are the kernel's); the socket
/// options make the fields keepalived sets: TOS 0xc0, TTL 255 (multicast and unicast), no DF, out of
/// the VRRP interface only; multicast loop off (a router does not hear itself), and membership of
/// 224.0.0.18 when no unicast peer is configured.
enum VRRPSocket {
    /// Opens the socket on `loop`; `onPacket` gets every packet received (IP header included).
    static func open(
        on loop: EventLoop, interface: NetworkInterface, multicast: Bool,
        onPacket: @escaping @Sendable ([UInt8]) -> Void
    ) -> EventLoopFuture<Channel> {
        NIORawSocketBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(InboundPackets(onPacket: onPacket))
                }
            }
            // Bound to no address: a raw socket bound to the interface's address would not see
            // packets to 224.0.0.18.
            .bind(host: "0.0.0.0", ipProtocol: NIOIPProtocol(rawValue: VRRPCodec.ipProtocol))
            .flatMap { channel in
                configure(channel, interface: interface, multicast: multicast).map { channel }
                    .flatMapError { error in channel.close().flatMapThrowing { throw error } }
            }
    }

    private static func configure(_ channel: Channel, interface: NetworkInterface, multicast: Bool)
        -> EventLoopFuture<Void>
    {
        guard let options = channel as? SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(
                HostNetworkError("the raw channel has no socket options", errno: 0))
        }
        let ip = SocketOptionLevel(IPPROTO_IP)
        let index = interface.index
        var steps: [@Sendable () -> EventLoopFuture<Void>] = [
            {
                options.unsafeSetSocketOption(
                    level: .init(SOL_SOCKET), name: .init(SO_BINDTODEVICE), value: DeviceName(interface.name))
            },
            { options.unsafeSetSocketOption(level: ip, name: .init(IP_TOS), value: CInt(VRRPCodec.ipTOS)) },
            { options.unsafeSetSocketOption(level: ip, name: .init(IP_TTL), value: CInt(VRRPCodec.ipTTL)) },
            { options.setIPMulticastTTL(VRRPCodec.ipTTL) },
            { options.setIPMulticastLoop(0) },
            // No DF bit, as on keepalived's packets (and so the kernel's own id, not 0).
            { options.unsafeSetSocketOption(level: ip, name: .init(IP_MTU_DISCOVER), value: CInt(IP_PMTUDISC_DONT)) },
            { options.unsafeSetSocketOption(level: ip, name: .init(IP_MULTICAST_IF), value: membership(nil, index)) },
        ]
        if multicast {
            let group = IPv4Address(VRRPCodec.multicastGroup)!
            steps.append {
                options.unsafeSetSocketOption(
                    level: ip, name: .init(IP_ADD_MEMBERSHIP), value: membership(group, index))
            }
        }
        return steps.reduce(channel.eventLoop.makeSucceededVoidFuture()) { chain, step in chain.flatMap(step) }
    }

    /// An `ip_mreqn` naming the interface by index.
    private static func membership(_ group: IPv4Address?, _ index: Int32) -> ip_mreqn {
        var request = ip_mreqn()
        request.imr_multiaddr.s_addr = (group?.value ?? 0).bigEndian
        request.imr_ifindex = index
        return request
    }

    /// Sends one advert to `destination` (224.0.0.18 or a unicast peer).
    static func send(_ bytes: [UInt8], to destination: String, on channel: Channel) -> EventLoopFuture<Void> {
        do {
            let address = try SocketAddress(ipAddress: destination, port: 0)
            let envelope = AddressedEnvelope(remoteAddress: address, data: channel.allocator.buffer(bytes: bytes))
            return channel.writeAndFlush(envelope)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
    }
}

/// SO_BINDTODEVICE's value: the interface name, NUL-terminated, in IFNAMSIZ bytes.
private struct DeviceName: Sendable {
    var bytes: (UInt64, UInt64) = (0, 0)

    init(_ name: String) {
        withUnsafeMutableBytes(of: &bytes) { buffer in
            for (i, byte) in name.utf8.enumerated() where i < buffer.count - 1 { buffer[i] = byte }
        }
    }
}

/// Hands each received datagram's bytes on.
private final class InboundPackets: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let onPacket: @Sendable ([UInt8]) -> Void

    init(onPacket: @escaping @Sendable ([UInt8]) -> Void) { self.onPacket = onPacket }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        onPacket(Array(unwrapInboundIn(data).data.readableBytesView))
    }

    /// A failed read (an ICMP error for a unicast peer, say) is not a reason to stop listening.
    func errorCaught(context: ChannelHandlerContext, error: Error) {}
}
