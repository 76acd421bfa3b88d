import AttachConfig
import Foundation
import NIOCore
import NIOPosix
import RealCluster

#if canImport(Glibc)
    import Glibc
#endif

/// The sockets haproxy sends its log to: hadeck binds them (a unix datagram path, or a UDP port)
/// on one SwiftNIO event loop and hands each datagram over as a parsed message.
///
/// A unix datagram socket is bound here and handed to NIO as a pipe-like descriptor: haproxy sends
/// from an unnamed socket, and NIO's `DatagramChannel` drops every datagram whose sender has no
/// address ("unsupported" address family). A `read` of a datagram socket returns exactly one
/// datagram, so nothing is merged or split.
final class LogReceiver: @unchecked Sendable {
    private let group: MultiThreadedEventLoopGroup
    private var channels: [(Channel, String?)] = []

    init(group: MultiThreadedEventLoopGroup) { self.group = group }

    /// Binds `address` for balancer `balancer`; `deliver` gets every message, `closed` the end of
    /// the socket. Throws with the reason the socket cannot be bound.
    func bind(
        _ address: LogSocketAddress, balancer: String, deliver: @escaping @Sendable (HAProxyLogMessage) -> Void,
        closed: @escaping @Sendable (String) -> Void
    ) throws(AttachError) {
        do {
            switch address {
            case .unix(let path):
                let fd = try Self.bindUnixDatagram(path)
                let channel: Channel
                do {
                    channel = try NIOPipeBootstrap(group: group)
                        .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65536))
                        .channelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(
                                    LogHandler<ByteBuffer>(deliver: deliver, closed: closed) { $0 })
                            }
                        }
                        .takingOwnershipOfDescriptor(input: fd).wait()
                } catch {
                    Glibc.close(fd)
                    unlink(path)
                    throw error
                }
                channels.append((channel, path))
            case .udp(let host, let port):
                let channel = try DatagramBootstrap(group: group)
                    .channelOption(.socketOption(.so_rcvbuf), value: 1 << 20)
                    .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65536))
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(
                                LogHandler<AddressedEnvelope<ByteBuffer>>(deliver: deliver, closed: closed) { $0.data })
                        }
                    }
                    .bind(host: host, port: port).wait()
                channels.append((channel, nil))
            }
        } catch let e as AttachError {
            throw e
        } catch {
            throw AttachError("\(balancer)'s log socket \(address): cannot bind it: \(error)")
        }
    }

    /// A unix datagram socket bound at `path` (a stale socket file there is replaced), writable by
    /// any local sender, with a large receive buffer for bursts of request lines.
    static func bindUnixDatagram(_ path: String) throws(AttachError) -> Int32 {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw AttachError("the log socket path \(path) is longer than a unix socket allows")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw AttachError("socket: \(String(cString: strerror(errno)))") }
        var size: Int32 = 1 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        let existing = FileFacts.socketKind(path)
        if existing.exists {
            guard existing.isSocket else {
                Glibc.close(fd)
                throw AttachError("\(path) exists and is not a socket: not replacing it")
            }
            unlink(path)
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else {
            let why = String(cString: strerror(errno))
            Glibc.close(fd)
            throw AttachError("cannot bind the log socket \(path): \(why)")
        }
        chmod(path, 0o666)
        return fd
    }

    /// Closes every socket and removes the unix socket files.
    func close() {
        for (channel, path) in channels {
            try? channel.close().wait()
            if let path { unlink(path) }
        }
        channels = []
    }
}

/// Decodes datagrams into haproxy log messages.
private final class LogHandler<Inbound>: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Inbound

    let deliver: @Sendable (HAProxyLogMessage) -> Void
    let closed: @Sendable (String) -> Void
    let bytes: (Inbound) -> ByteBuffer

    init(
        deliver: @escaping @Sendable (HAProxyLogMessage) -> Void, closed: @escaping @Sendable (String) -> Void,
        bytes: @escaping (Inbound) -> ByteBuffer
    ) {
        self.deliver = deliver
        self.closed = closed
        self.bytes = bytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let text = String(buffer: bytes(unwrapInboundIn(data)))
        deliver(HAProxyLogMessage.parse(SyslogDatagram.parse(text).message))
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed("the log socket closed")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A datagram NIO cannot take is one lost line, not the socket's end: keep reading.
    }
}
