import ArgumentParser
import BalancerCore
import Dispatch
import Foundation
import HadeckBase
import HadeckConfig
import LiveEngine
import Logging
import NIOCore
import NIOPosix

/// `hadeck proxy -f haproxy.cfg [-f ...]`: one live balancer from haproxy.cfg files, headless,
/// as a drop-in for `haproxy -f` on the subset hadeck supports.
public struct ProxyCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Run one balancer from haproxy.cfg files, like 'haproxy -f' (headless).",
        discussion: """
            Prints the configuration's warnings as FILE:LINE: warning: ..., refuses to start on errors \
            (exit 1), binds the frontends (a wildcard bind such as ':8080' listens on --wildcard-host, \
            127.0.0.1 by default), runs the health checks and logs one HAProxy-like line per request on \
            standard output. Server state changes go to standard error. Stops cleanly on SIGINT or SIGTERM. \
            Runs on one event loop thread, like HAProxy with nbthread 1. A 'stats socket' line opens \
            HAProxy's runtime API on that unix socket (socat, hatop); 'stats enable'/'stats uri' serve the \
            stats page and /metrics on that frontend. A socket path another process serves is refused, \
            never taken over; the socket file is removed on SIGINT or SIGTERM. What happens at run time \
            is told on standard error in HAProxy's shape: [NOTICE], [WARNING], [ALERT] (PID) : message.
            """
    )

    /// The configuration files, read in order.
    @Option(name: .customShort("f"), help: "A haproxy.cfg to load (repeatable).")
    public var files: [String] = []

    /// Where `bind :PORT` and `bind *:PORT` listen.
    @Option(help: "The address wildcard binds listen on.")
    public var wildcardHost = "127.0.0.1"

    /// The least severe messages printed on standard error.
    @Option(help: "The least severe messages printed on standard error (debug shows failed connections).")
    public var logLevel: ProxyLogLevel = .notice

    public init() {}

    public func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one file with -f FILE") }
    }

    /// Reads and merges the files; prints diagnostics to standard error. Nil when there are errors.
    static func load(files: [String], read: (String) throws -> String = ConfigFiles.read) -> HAProxyConfig? {
        var merged: HAProxyConfig?
        var failed = false
        for path in files {
            let text: String
            do {
                text = try read(path)
            } catch {
                fputsStderr("\(path): error: \(error)\n")
                failed = true
                continue
            }
            let (config, diagnostics) = HAProxyConfigParser.parse(text: text, file: path)
            for item in CheckCommand.ordered(diagnostics.items, mainFile: path) { fputsStderr(item.description + "\n") }
            if diagnostics.hasErrors { failed = true }
            if var m = merged {
                m.frontends += config.frontends
                m.backends += config.backends
                merged = m
            } else {
                merged = config
            }
        }
        if failed {
            fputsStderr("Configuration file has errors, not starting.\n")
            return nil
        }
        return merged
    }

    /// The frontends whose requests get a line on standard output: those with a `log` target (their
    /// own or `log global`), as HAProxy logs nothing for a proxy without one.
    static func loggedFrontends(_ config: HAProxyConfig) -> Set<String> {
        Set(config.frontends.filter(\.logging.enabled).map(\.name))
    }

    public func run() throws {
        guard let config = Self.load(files: files) else { throw ExitCode(1) }
        if config.frontends.isEmpty {
            fputsStderr("No frontend or listen section with a bind: nothing to listen on.\n")
            throw ExitCode(1)
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let pid = Int(getpid())
        let clock = LiveClock()
        let wallAtStart = Date().timeIntervalSince1970
        let log = NIOLoopBoundBox.makeBoxSendingValue(LogBuffer(), as: LogBuffer.self, eventLoop: loop)
        let logLevel = self.logLevel.level
        let logger = Logger(label: "hadeck.proxy") { _ in HAProxyStyleLogHandler(pid: pid, logLevel: logLevel) }
        var options = BalancerOptions()
        options.wildcardHost = wildcardHost
        options.logger = logger
        let logged = Self.loggedFrontends(config)
        var onRequest: (@Sendable (AccessLogRecord) -> Void)?
        if !logged.isEmpty {
            onRequest = { record in
                guard logged.contains(record.frontend) else { return }
                log.value.append(record, wallAtStart: wallAtStart)
            }
        }
        let balancer = Balancer(
            name: config.global.node ?? "hadeck", config: config, pid: pid, eventLoop: loop, clock: clock,
            options: options,
            onRequest: onRequest,
            onTransition: { t in
                log.value.flush()
                logger.warning("Server \(t.backend)/\(t.transition.server) is \(t.transition.to). \(t.transition.why)")
            },
            onAdminChange: { change in
                log.value.flush()
                logger.notice("\(change.why)")
            })
        do {
            try balancer.startFuture().wait()
        } catch {
            logger.error("\(error)")
            try? group.syncShutdownGracefully()
            throw ExitCode(1)
        }
        for (frontend, address) in balancer.listenAddresses {
            logger.notice("frontend '\(frontend)' listening on \(address)")
            if let stats = balancer.statsPages.first(where: { $0.frontend == frontend }) {
                logger.notice("stats page on http://\(address)\(stats.uri) (metrics on /metrics)")
            }
        }
        for socket in balancer.statsSocketConfigs {
            logger.notice("stats socket \(socket.path) (level \(socket.level.rawValue))")
        }
        let flusher = loop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { _ in
            log.value.flush()
        }

        let signals = SignalHandlers()
        signals.waitForTermination()
        flusher.cancel()
        try? balancer.stopFuture().wait()
        try? loop.submit { log.value.flush() }.wait()
        logger.notice("stopped.")
        signals.cancel()
        try? group.syncShutdownGracefully()
    }
}

/// swift-log's handler for `hadeck proxy`: the lines HAProxy itself prints on standard error,
/// `[NOTICE]   (PID) : message`, `[WARNING]  (PID) : ...`, `[ALERT]    (PID) : ...`.
struct HAProxyStyleLogHandler: LogHandler {
    let pid: Int
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    /// Where the lines go: standard error (`hadeck proxy`), or a log file (the dashboard's `--log-file`).
    var write: @Sendable (String) -> Void = { fputsStderr($0) }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let more = event.metadata { all.merge(more) { _, new in new } }
        write(Self.line(level: event.level, pid: pid, message: "\(event.message)", metadata: all))
    }

    /// One line: HAProxy's label padded to 11 columns, the pid, the message, then any metadata
    /// as `(key=value, ...)` in key order. HAProxy's labels are ALERT, WARNING, NOTICE (and DIAG);
    /// swift-log's error and critical are ALERTs, info and notice NOTICEs, debug and trace DEBUGs.
    static func line(level: Logger.Level, pid: Int, message: String, metadata: Logger.Metadata) -> String {
        let label: String
        switch level {
        case .trace, .debug: label = "[DEBUG]"
        case .info, .notice: label = "[NOTICE]"
        case .warning: label = "[WARNING]"
        case .error, .critical: label = "[ALERT]"
        }
        var line = label + String(repeating: " ", count: max(1, 11 - label.count)) + "(\(pid)) : " + message
        if !metadata.isEmpty {
            line +=
                " (" + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")"
        }
        return line + "\n"
    }
}

/// `--log-level`: swift-log's levels, by their names.
public enum ProxyLogLevel: String, CaseIterable, ExpressibleByArgument, Sendable {
    case trace, debug, info, notice, warning, error, critical

    var level: Logger.Level { Logger.Level(rawValue: rawValue) ?? .notice }
}

/// Request log lines waiting to be written; flushed every 100 ms or every 32 KB.
final class LogBuffer {
    private var bytes: [UInt8] = []
    let dates = LogDateCache()

    func append(_ record: AccessLogRecord, wallAtStart: Double) {
        HTTPLogLine.append(record, wallAtStart: wallAtStart, dates: dates, to: &bytes)
        if bytes.count >= 32_768 { flush() }
    }

    func flush() {
        guard !bytes.isEmpty else { return }
        writeAll(1, bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}
