import ArgumentParser
import BalancerCore
import ClusterConfig
import ClusterNode
import Dispatch
import Foundation
import HadeckBase
import HadeckConfig
import HostNetwork
import LiveEngine
import NIOCore
import NIOPosix
import VRRPCore

#if canImport(Glibc)
    import Glibc
#endif

/// `hadeck node`: one balancer host of a cluster on real interfaces, hadeck's haproxy and keepalived
/// in one process, standing in for a host that runs the real programs.
public struct NodeCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run one balancer host (hadeck's haproxy and keepalived) on this network namespace's interfaces.",
        discussion: """
            Runs the host's haproxy.cfg with hadeck's balancer and one vrrp_instance of its keepalived.conf \
            with hadeck's VRRP: real VRRPv2 on IP protocol 112 (TTL 255, TOS 0xc0, to 224.0.0.18 or the \
            unicast peers), real gratuitous ARPs (AF_PACKET), the VIP added to the interface as MASTER and \
            removed as BACKUP, FAULT or on stop, the track script on its own haproxy. It takes part in VRRP \
            with real keepalived hosts. Logs keepalived-like lines on standard error and one HAProxy-like \
            line per request on standard output; writes vrrp_notify_fifo lines as keepalived does; SIGUSR1 \
            writes keepalived.data, SIGUSR2 keepalived.stats into $TMPDIR (default /tmp); SIGTERM or SIGINT \
            stop it gracefully (a priority-0 advert, the VIP removed). Needs root, and runs inside a network \
            namespace (ip netns exec NS hadeck node ...): --host-network allows any other (the machine's own, \
            a container's). \
            Example: ip netns exec hdkm-lb2 hadeck node -f haproxy.cfg -k keepalived.conf; \
            'hadeck lab up --mixed' runs lb2 this way.
            """)

    @Argument(help: "With --cluster: the balancer host to run (lb1, lb2, ...).")
    var host: String?

    @Option(help: "A cluster file: run its host HOST's haproxy.cfg and keepalived.conf.")
    var cluster: String?

    @Option(name: [.customShort("f"), .customLong("haproxy")], help: "The host's haproxy.cfg.")
    var haproxyFile: String?

    @Option(name: [.customShort("k"), .customLong("keepalived")], help: "The host's keepalived.conf.")
    var keepalivedFile: String?

    @Option(help: "The vrrp_instance to run (default: the first).")
    var instance: String?

    @Option(help: "Written once running (the node's pid); removed on exit.")
    var pidFile: String?

    @Flag(
        help: """
            Run outside an 'ip netns' namespace (the machine's own network, a container's): add the VIP and \
            speak VRRP on its interfaces.
            """)
    var hostNetwork = false

    public init() {}

    public func validate() throws {
        if cluster != nil {
            guard host != nil else { throw ValidationError("with --cluster, name the host to run (lb1, lb2, ...)") }
            guard haproxyFile == nil, keepalivedFile == nil else {
                throw ValidationError("give either --cluster FILE HOST or -f haproxy.cfg -k keepalived.conf")
            }
        } else {
            guard haproxyFile != nil, keepalivedFile != nil else {
                throw ValidationError("give -f haproxy.cfg and -k keepalived.conf, or --cluster FILE HOST")
            }
            if let host { throw ValidationError("'\(host)': a host is named only with --cluster") }
        }
    }

    /// The host's two configurations, diagnostics printed; nil when they have errors.
    func configurations() -> (HAProxyConfig, KeepalivedConfig)? {
        if let cluster, let host {
            let (loaded, diagnostics) = ClusterLoader.load(path: cluster, read: ConfigFiles.read)
            for item in CheckCommand.ordered(diagnostics.items, mainFile: cluster) {
                fputsStderr(item.description + "\n")
            }
            guard let loaded else { return nil }
            guard let h = loaded.hosts.first(where: { $0.definition.name == host }) else {
                let names = loaded.hosts.map(\.definition.name).joined(separator: ", ")
                fputsStderr("\(cluster): error: no balancer host '\(host)' (hosts: \(names))\n")
                return nil
            }
            return (h.haproxy, h.keepalived)
        }
        guard let haproxyFile, let keepalivedFile, let haproxy = ProxyCommand.load(files: [haproxyFile]) else {
            return nil
        }
        let text: String
        do { text = try ConfigFiles.read(keepalivedFile) } catch {
            fputsStderr("\(keepalivedFile): error: \(error)\n")
            return nil
        }
        let (keepalived, diagnostics) = KeepalivedConfigParser.parse(text: text, file: keepalivedFile)
        for item in CheckCommand.ordered(diagnostics.items, mainFile: keepalivedFile) {
            fputsStderr(item.description + "\n")
        }
        if diagnostics.hasErrors {
            fputsStderr("Configuration file has errors, not starting.\n")
            return nil
        }
        return (haproxy, keepalived)
    }

    public func run() throws {
        if geteuid() != 0 {
            fputsStderr("hadeck node: not root: raw VRRP sockets, AF_PACKET and the VIP need it (run it as root)\n")
            throw ExitCode(1)
        }
        if !HostNetworkNamespace.isSeparate && !hostNetwork {
            fputsStderr(
                "hadeck node: this looks like the machine's own network namespace: run it in the host's namespace "
                    + "(ip netns exec NS hadeck node ...), or give --host-network to speak VRRP and add the VIP here\n")
            throw ExitCode(1)
        }
        guard let (haproxy, keepalived) = configurations() else { throw ExitCode(1) }
        let pid = Int(getpid())
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let balancerLoop = group.next()
        let wallAtStart = Date().timeIntervalSince1970
        let requests = NIOLoopBoundBox.makeBoxSendingValue(LogBuffer(), as: LogBuffer.self, eventLoop: balancerLoop)
        let node: ClusterNode
        do {
            node = try ClusterNode(
                haproxy: haproxy, keepalived: keepalived, instance: instance, loops: (balancerLoop, group.next()),
                dumpDirectory: ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp",
                onRequest: { requests.value.append($0, wallAtStart: wallAtStart) },
                onTransition: { t in
                    requests.value.flush()
                    fputsStderr(
                        "[WARNING]  (\(pid)) : Server \(t.backend)/\(t.transition.server) is \(t.transition.to). \(t.transition.why)\n"
                    )
                },
                onAdminChange: { change in fputsStderr("[NOTICE]   (\(pid)) : \(change.why)\n") },
                log: { fputsStderr(Self.keepalivedTime() + ": " + $0 + "\n") })
        } catch {
            fputsStderr("hadeck node: \(error)\n")
            try? group.syncShutdownGracefully()
            throw ExitCode(1)
        }
        fputsStderr(Self.keepalivedTime() + ": Starting hadeck node (haproxy and keepalived), pid \(pid)\n")
        do { try node.start().wait() } catch {
            fputsStderr("[ALERT]    (\(pid)) : \(error)\n")
            try? node.stop().wait()
            try? group.syncShutdownGracefully()
            throw ExitCode(1)
        }
        for (frontend, address) in node.balancer.listenAddresses {
            fputsStderr("[NOTICE]   (\(pid)) : frontend '\(frontend)' listening on \(address)\n")
        }
        if let pidFile {
            do { try "\(pid)\n".write(toFile: pidFile, atomically: true, encoding: .utf8) } catch {
                fputsStderr("hadeck node: cannot write \(pidFile): \(error)\n")
            }
        }
        let flusher = balancerLoop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) {
            _ in requests.value.flush()
        }
        let signals = SignalHandlers()
        signals.on([SIGUSR1]) {
            node.keepalived.writeDataDump().whenFailure { fputsStderr("hadeck node: data dump: \($0)\n") }
        }
        signals.on([SIGUSR2]) {
            node.keepalived.writeStats().whenFailure { fputsStderr("hadeck node: stats: \($0)\n") }
        }
        signals.waitForTermination()
        fputsStderr(Self.keepalivedTime() + ": Stopping\n")
        try? node.stop().wait()
        flusher.cancel()
        try? balancerLoop.submit { requests.value.flush() }.wait()
        if let pidFile { try? FileManager.default.removeItem(atPath: pidFile) }
        fputsStderr(Self.keepalivedTime() + ": Stopped hadeck node\n")
        signals.cancel()
        try? group.syncShutdownGracefully()
    }

    /// keepalived's console timestamp: `Wed Dec  2 03:57:11 2026`.
    static func keepalivedTime() -> String {
        var t = time(nil)
        var parts = tm()
        localtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%a %b %e %H:%M:%S %Y", &parts)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
