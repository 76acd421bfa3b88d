import HadeckBase
import HostNetwork
import LiveEngine
import NIOCore
import NIOPosix
import VRRPCore

#if canImport(Glibc)
    import Glibc
#endif

/// hadeck's keepalived for one `vrrp_instance` on a real interface: the shell around VRRPCore's pure
/// `VRRPInstance`. It feeds the instance the packets of its raw VRRP socket, its deadlines and its
/// interface's carrier, and performs the actions it returns: adverts on the wire, gratuitous ARPs
/// (AF_PACKET), the VIP added and removed (rtnetlink), keepalived's log lines, notify FIFO lines.
/// Everything runs on `loop`.
public final class NodeKeepalived: Sendable {
    /// What keepalived.conf gives the node for its instance.
    public struct Settings: Sendable {
        public var instance: VRRPInstanceConfig
        public var globals: KeepalivedGlobals
        public var scripts: [VRRPScriptConfig]
        /// Where SIGUSR1 and SIGUSR2 write `keepalived.data` and `keepalived.stats` (keepalived's TMPDIR).
        public var dumpDirectory: String

        public init(
            instance: VRRPInstanceConfig, globals: KeepalivedGlobals, scripts: [VRRPScriptConfig],
            dumpDirectory: String
        ) {
            self.instance = instance
            self.globals = globals
            self.scripts = scripts
            self.dumpDirectory = dumpDirectory
        }
    }

    public let settings: Settings
    public let interface: NetworkInterface
    public let loop: EventLoop
    let clock: LiveClock
    let state: NIOLoopBoundBox<NodeKeepalivedState>

    /// - Parameters:
    ///   - interface: the instance's `interface`, as it is now (its primary IPv4 address is the source).
    ///   - haproxyAlive: what a track script on "this host's haproxy" finds (`killall -0 haproxy` and the like).
    ///   - log: one keepalived-like line at a time (without a timestamp), on `loop`.
    public init(
        settings: Settings, interface: NetworkInterface, loop: EventLoop, clock: LiveClock = LiveClock(),
        haproxyAlive: @escaping @Sendable () -> Bool, log: @escaping @Sendable (String) -> Void
    ) throws(HostNetworkError) {
        guard let primary = interface.addresses.first else {
            throw HostNetworkError("interface \(interface.name) has no IPv4 address", errno: 0)
        }
        guard interface.mac != nil else {
            throw HostNetworkError("interface \(interface.name) is not Ethernet (no MAC)", errno: 0)
        }
        self.settings = settings
        self.interface = interface
        self.loop = loop
        self.clock = clock
        let instance = VRRPInstance(
            config: settings.instance, globals: settings.globals, scripts: settings.scripts,
            primaryIP: primary.description)
        let addresses = try InterfaceAddresses()
        let arp = try PacketSocket(interface: interface, etherType: GratuitousARP.etherType)
        state = NIOLoopBoundBox.makeBoxSendingValue(
            NodeKeepalivedState(
                instance: instance, interface: interface, addresses: addresses, arp: arp, haproxyAlive: haproxyAlive,
                log: log),
            as: NodeKeepalivedState.self, eventLoop: loop)
    }

    /// Removes the VIPs a killed keepalived may have left (as keepalived does at init), opens the VRRP
    /// socket and the notify FIFO, and starts the instance: BACKUP (or MASTER at priority 255).
    public func start() -> EventLoopFuture<Void> {
        let state = self.state
        let clock = self.clock
        let multicast = settings.instance.unicastPeers.isEmpty
        let fifo = settings.globals.notifyFIFO
        return loop.submit { () throws -> Void in
            let s = state.value
            s.line("(\(s.name)) removing VIPs.")
            for vip in s.vips { _ = try? s.addresses.remove(vip, interface: s.interface.index) }
            if let fifo { s.fifo = try NotifyFIFOWriter(path: fifo) }
        }.flatMap {
            VRRPSocket.open(on: self.loop, interface: self.interface, multicast: multicast) { packet in
                state.value.received(packet, clock: clock)
            }
        }.map { channel in
            let s = state.value
            s.channel = channel
            s.line(
                "VRRP sockpool: [ifindex(\(s.interface.index)), family(IPv4), proto(112), "
                    + (multicast ? "multicast, address(\(VRRPCodec.multicastGroup))]" : "unicast]"))
            s.drive(clock) { instance, now in instance.start(now: now) }
            s.linkPoll = self.loop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) {
                _ in state.value.pollLink(clock)
            }
        }
    }

    /// Graceful stop (SIGTERM): a MASTER sends its priority-0 advert and removes the VIP; then the
    /// socket closes. Completes once the advert is on the wire.
    public func stop() -> EventLoopFuture<Void> {
        let state = self.state
        let clock = self.clock
        return loop.flatSubmit {
            let s = state.value
            s.drive(clock) { instance, now in instance.stop(now: now) }
            s.linkPoll?.cancel()
            s.timer?.cancel()
            let pending = s.pendingWrites
            s.pendingWrites = []
            return EventLoopFuture.andAllComplete(pending, on: self.loop).flatMap {
                let s = state.value
                s.fifo?.close()
                s.fifo = nil
                return s.channel?.close() ?? self.loop.makeSucceededVoidFuture()
            }
        }
    }

    /// What the instance is now.
    public func status() -> EventLoopFuture<NodeVRRPStatus> {
        let state = self.state
        return loop.submit { state.value.status() }
    }

    /// SIGUSR1: writes `keepalived.data` into the dump directory; returns its path.
    public func writeDataDump() -> EventLoopFuture<String> {
        let state = self.state
        let path = settings.dumpDirectory + "/keepalived.data"
        let settings = self.settings
        return loop.submit {
            try KeepalivedFiles.write(KeepalivedFiles.dataDump(state.value.status(), settings: settings), to: path)
            return path
        }
    }

    /// SIGUSR2: writes `keepalived.stats` into the dump directory; returns its path.
    public func writeStats() -> EventLoopFuture<String> {
        let state = self.state
        let path = settings.dumpDirectory + "/keepalived.stats"
        return loop.submit {
            try KeepalivedFiles.write(KeepalivedFiles.stats(state.value.status()), to: path)
            return path
        }
    }
}

/// A snapshot of the node's instance for dumps, tests and screens.
public struct NodeVRRPStatus: Sendable {
    public var name: String
    public var state: VRRPState
    public var basePriority: Int
    public var effectivePriority: Int
    public var masterIP: String?
    public var masterPriority: Int?
    public var sourceIP: String
    public var interface: String
    public var virtualRouterID: Int
    public var advertInterval: TimeSpan
    public var vips: [String]
    public var vipsInstalled: Bool
    public var masterDownInterval: TimeSpan
    public var stats: VRRPStats
    /// Packets thrown away before the VRRP message (IP-level checks), counted with the instance's own.
    public var discards: [VRRPDiscardReason: Int]
    public var releasedMaster: Int
    public var scripts: [TrackedScriptStatus]
    public var multicast: Bool
    public var authentication: VRRPAuthentication?
}

/// The shell's state, confined to the loop.
final class NodeKeepalivedState {
    var instance: VRRPInstance
    let interface: NetworkInterface
    let addresses: InterfaceAddresses
    let arp: PacketSocket
    let haproxyAlive: @Sendable () -> Bool
    let log: @Sendable (String) -> Void
    var channel: Channel?
    var fifo: NotifyFIFOWriter?
    var timer: Scheduled<Void>?
    var linkPoll: RepeatedTask?
    var pendingWrites: [EventLoopFuture<Void>] = []
    var ipDiscards: [VRRPDiscardReason: Int] = [:]
    var releasedMaster = 0
    var carrier = true

    init(
        instance: VRRPInstance, interface: NetworkInterface, addresses: InterfaceAddresses, arp: PacketSocket,
        haproxyAlive: @escaping @Sendable () -> Bool, log: @escaping @Sendable (String) -> Void
    ) {
        self.instance = instance
        self.interface = interface
        self.addresses = addresses
        self.arp = arp
        self.haproxyAlive = haproxyAlive
        self.log = log
        carrier = interface.hasCarrier && interface.isUp
    }

    var name: String { instance.config.name }
    var vips: [IPv4Address] { instance.config.virtualIPAddresses.compactMap { IPv4Address($0) } }

    func line(_ text: String) { log(text) }

    /// Runs one step of the instance at the current time, performs what it returns, and arms the
    /// timer for its next deadline.
    func drive(_ clock: LiveClock, _ step: (inout VRRPInstance, Instant) -> [VRRPAction]) {
        let actions = step(&instance, clock.now())
        perform(actions)
        timer?.cancel()
        timer = nil
        guard let next = instance.nextDeadline, let loop = channel?.eventLoop else { return }
        let bound = NIOLoopBound(self, eventLoop: loop)
        timer = loop.scheduleTask(deadline: clock.deadline(of: next)) {
            let s = bound.value
            s.drive(clock) { instance, now in
                instance.advance(to: now) { check in
                    if case .haproxyAlive = check { return s.haproxyAlive() }
                    return true
                }
            }
        }
    }

    func received(_ packet: [UInt8], clock: LiveClock) {
        let multicast = instance.config.unicastPeers.isEmpty
        switch VRRPCodec.vrrpMessage(inIPv4: packet, multicast: multicast) {
        case .failure(let reason):
            ipDiscards[reason, default: 0] += 1
            let from = VRRPCodec.ipv4Header(packet)?.source ?? "?"
            line("(\(name)) discarded a packet from \(from): \(reason)")
        case .success(let (header, message)):
            drive(clock) { instance, now in
                instance.receive(packet: message, from: header.source, to: header.destination, now: now)
            }
        }
    }

    func pollLink(_ clock: LiveClock) {
        guard let now = try? NetworkInterface.named(interface.name) else { return }
        let up = now.isUp && now.hasCarrier
        guard up != carrier else { return }
        carrier = up
        line("Netlink reports \(interface.name) \(up ? "up" : "down")")
        drive(clock) { instance, time in instance.setLink(up: up, now: time) }
    }

    func perform(_ actions: [VRRPAction]) {
        var garpBatch = false
        for action in actions {
            if case .sendGratuitousARP = action {} else { garpBatch = false }
            switch action {
            case .sendAdvert(let advert):
                guard let channel else { continue }
                let write = VRRPSocket.send(advert.bytes, to: advert.destination, on: channel)
                write.whenFailure { [log, name] error in log("(\(name)) cannot send an advert: \(error)") }
                pendingWrites.append(write)
                if pendingWrites.count > 16 { pendingWrites.removeFirst(pendingWrites.count - 16) }
            case .sendGratuitousARP(let vip):
                guard let address = IPv4Address(vip), let mac = interface.mac else { continue }
                if !garpBatch {
                    line("(\(name)) Sending/queueing gratuitous ARPs on \(interface.name) for \(vip)")
                    garpBatch = true
                }
                do {
                    try arp.send(GratuitousARP.frame(mac: mac, address: address), to: GratuitousARP.broadcast)
                    line("Sending gratuitous ARP on \(interface.name) for \(vip)")
                } catch {
                    line("(\(name)) gratuitous ARP for \(vip) failed: \(error)")
                }
            case .stateChanged(let from, let to, let why):
                if from == .master { releasedMaster += 1 }
                line("(\(name)) Entering \(to) STATE\(from == .initialize ? " (init)" : "")")
                line("(\(name)) hadeck: \(why)")
                fifo?.write(state: to.rawValue, instance: name, priority: instance.effectivePriority)
            case .priorityChanged(let from, let to, let why):
                line("(\(name)) Changing effective priority from \(from) to \(to)")
                line("(\(name)) hadeck: \(why)")
                if instance.globals.notifyPriorityChanges {
                    let event = instance.state == .master ? "MASTER_PRIORITY" : "BACKUP_PRIORITY"
                    fifo?.write(state: event, instance: name, priority: to)
                }
            case .vipsAdded(let list, _):
                line("(\(name)) setting VIPs.")
                change(list, add: true)
            case .vipsRemoved(let list, _):
                line("(\(name)) removing VIPs.")
                change(list, add: false)
            case .advertDiscarded(let from, let reason):
                line("(\(name)) discarded a packet from \(from): \(reason)")
            case .log(let text):
                // The instance's own "Entering ... STATE" line repeats the state change above.
                if !text.hasPrefix("(\(name)) Entering ") { line(text) }
            }
        }
    }

    private func change(_ list: [String], add: Bool) {
        for vip in list {
            guard let address = IPv4Address(vip) else { continue }
            do {
                if add {
                    try addresses.add(address, interface: interface.index)
                } else {
                    try addresses.remove(address, interface: interface.index)
                }
            } catch {
                line("(\(name)) \(error)")
            }
        }
    }

    func status() -> NodeVRRPStatus {
        var discards = instance.stats.discards
        for (reason, n) in ipDiscards { discards[reason, default: 0] += n }
        return NodeVRRPStatus(
            name: name, state: instance.state, basePriority: instance.basePriority,
            effectivePriority: instance.effectivePriority, masterIP: instance.masterIP,
            masterPriority: instance.masterPriority, sourceIP: instance.sourceIP, interface: interface.name,
            virtualRouterID: instance.config.virtualRouterID, advertInterval: instance.ownAdvertInterval,
            vips: instance.config.virtualIPAddresses, vipsInstalled: instance.vipsInstalled,
            masterDownInterval: instance.masterDownInterval, stats: instance.stats, discards: discards,
            releasedMaster: releasedMaster, scripts: instance.trackedScripts,
            multicast: instance.config.unicastPeers.isEmpty,
            authentication: instance.config.authentication)
    }
}
