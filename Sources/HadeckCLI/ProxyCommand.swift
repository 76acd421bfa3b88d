import ArgumentParser
import BalancerCore
import Dispatch
import Foundation
import HadeckBase
import HadeckConfig
import LiveEngine
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
            stats page and /metrics on that frontend. The socket file is removed on SIGINT or SIGTERM.
            """
    )

    /// The configuration files, read in order.
    @Option(name: .customShort("f"), help: "A haproxy.cfg to load (repeatable).")
    public var files: [String] = []

    /// Where `bind :PORT` and `bind *:PORT` listen.
    @Option(help: "The address wildcard binds listen on.")
    public var wildcardHost = "127.0.0.1"

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
        var options = BalancerOptions()
        options.wildcardHost = wildcardHost
        let balancer = Balancer(
            name: config.global.node ?? "hadeck", config: config, pid: pid, eventLoop: loop, clock: clock,
            options: options,
            onRequest: { record in
                log.value.append(record, wallAtStart: wallAtStart)
            },
            onTransition: { t in
                log.value.flush()
                fputsStderr(
                    "[WARNING]  (\(pid)) : Server \(t.backend)/\(t.transition.server) is \(t.transition.to). \(t.transition.why)\n"
                )
            },
            onAdminChange: { change in
                log.value.flush()
                fputsStderr("[NOTICE]   (\(pid)) : \(change.why)\n")
            })
        do {
            try balancer.startFuture().wait()
        } catch {
            fputsStderr("[ALERT]    (\(pid)) : \(error)\n")
            try? group.syncShutdownGracefully()
            throw ExitCode(1)
        }
        for (frontend, address) in balancer.listenAddresses {
            fputsStderr("[NOTICE]   (\(pid)) : frontend '\(frontend)' listening on \(address)\n")
            if let stats = balancer.statsPages.first(where: { $0.frontend == frontend }) {
                fputsStderr(
                    "[NOTICE]   (\(pid)) : stats page on http://\(address)\(stats.uri) (metrics on /metrics)\n")
            }
        }
        for socket in balancer.statsSocketConfigs {
            fputsStderr("[NOTICE]   (\(pid)) : stats socket \(socket.path) (level \(socket.level.rawValue))\n")
        }
        let flusher = loop.scheduleRepeatedTask(initialDelay: .milliseconds(100), delay: .milliseconds(100)) { _ in
            log.value.flush()
        }

        let done = DispatchSemaphore(value: 0)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { done.signal() }
            source.resume()
            sources.append(source)
        }
        done.wait()
        flusher.cancel()
        try? balancer.stopFuture().wait()
        try? loop.submit { log.value.flush() }.wait()
        fputsStderr("[NOTICE]   (\(pid)) : stopped.\n")
        for s in sources { s.cancel() }
        try? group.syncShutdownGracefully()
    }

    /// An HAProxy `option httplog` line (without the syslog header):
    /// `IP:PORT [DATE] FRONTEND BACKEND/SERVER TR/Tw/Tc/Tr/Ta STATUS BYTES - - TERM ac/fc/bc/sc/rc 0/0 "REQUEST"`.
    static func logLine(_ r: RequestRecord, wallAtStart: Double, dates: DateCache? = nil) -> String {
        var bytes: [UInt8] = []
        appendLogLine(r, wallAtStart: wallAtStart, dates: dates ?? DateCache(), to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `logLine` appended as bytes: one line per request on the proxy's hot path, without building
    /// a `String` from a dozen interpolations.
    static func appendLogLine(_ r: RequestRecord, wallAtStart: Double, dates: DateCache, to out: inout [UInt8]) {
        func ms(_ t: TimeSpan?) {
            if let t { appendDecimal(Int(t.micros / 1000), to: &out) } else { appendStatic("-1", to: &out) }
        }
        var cookie: StaticString = "--"
        if r.reason.hasPrefix("cookie ") {
            let valid = r.reason.contains("->") && !r.reason.contains("rebalanced")
            cookie = valid ? (r.insertedCookie ? "VI" : "VN") : (r.insertedCookie ? "II" : "IN")
        } else if r.reason.hasPrefix("no cookie") {
            cookie = r.insertedCookie ? "NI" : "NN"
        }
        appendUTF8(r.client, to: &out)
        appendStatic(" [", to: &out)
        dates.append(wallAtStart + r.start.seconds, to: &out)
        appendStatic("] ", to: &out)
        appendUTF8(r.frontend, to: &out)
        out.append(UInt8(ascii: " "))
        appendUTF8(r.backend, to: &out)
        out.append(UInt8(ascii: "/"))
        appendUTF8((r.server ?? "<NOSRV>"), to: &out)
        out.append(UInt8(ascii: " "))
        ms(r.requestTime)
        appendStatic("/0/", to: &out)
        ms(r.connectTime)
        out.append(UInt8(ascii: "/"))
        ms(r.responseTime)
        out.append(UInt8(ascii: "/"))
        ms(r.latency)
        out.append(UInt8(ascii: " "))
        appendDecimal(r.status, to: &out)
        out.append(UInt8(ascii: " "))
        appendDecimal(r.bytesOut, to: &out)
        appendStatic(" - - ", to: &out)
        appendUTF8(r.termination, to: &out)
        cookie.withUTF8Buffer { out += $0 }
        out.append(UInt8(ascii: " "))
        for _ in 0..<2 {
            appendDecimal(r.activeConnections, to: &out)
            out.append(UInt8(ascii: "/"))
        }
        for _ in 0..<2 {
            appendDecimal(r.serverConnections, to: &out)
            out.append(UInt8(ascii: "/"))
        }
        if r.redispatched { out.append(UInt8(ascii: "+")) }
        appendDecimal(r.retries, to: &out)
        appendStatic(" 0/0 \"", to: &out)
        appendUTF8(r.requestLine, to: &out)
        appendStatic("\"\n", to: &out)
    }

    /// Appends a string's UTF-8 in one copy (`+= s.utf8` goes byte by byte).
    static func appendUTF8(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { out.append(contentsOf: $0) }
    }

    static func appendStatic(_ s: StaticString, to out: inout [UInt8]) {
        s.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    /// Appends `n` in decimal.
    static func appendDecimal(_ n: Int, to out: inout [UInt8]) {
        if n < 0 { out.append(UInt8(ascii: "-")) }
        var v = n.magnitude
        if v < 10 { return out.append(UInt8(ascii: "0") + UInt8(v)) }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 digits, little end first, no allocation
        var count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while v > 0 {
                d[count] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) { out.append(d[i]) }
        }
    }

    /// `25/Nov/2026:15:07:49.123` in local time.
    static func haproxyDate(_ seconds: Double) -> String {
        var t = time_t(seconds)
        var parts = tm()
        localtime_r(&t, &parts)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let millis = Int((seconds - Double(Int(seconds))) * 1000)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let msText = millis < 10 ? "00\(millis)" : (millis < 100 ? "0\(millis)" : "\(millis)")
        return
            "\(two(parts.tm_mday))/\(months[Int(parts.tm_mon)])/\(parts.tm_year + 1900):\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(msText)"
    }
}

/// `haproxyDate` for the current second, computed once per second.
final class DateCache {
    private var second = -1
    private var prefix = ""

    func text(_ seconds: Double) -> String {
        let whole = Int(seconds)
        if whole != second {
            second = whole
            prefix = String(ProxyCommand.haproxyDate(Double(whole)).dropLast(3))
        }
        let millis = Int((seconds - Double(whole)) * 1000)
        return prefix + (millis < 10 ? "00" : (millis < 100 ? "0" : "")) + String(millis)
    }

    /// `text(seconds)` appended as bytes.
    func append(_ seconds: Double, to out: inout [UInt8]) {
        let whole = Int(seconds)
        if whole != second { _ = text(seconds) }
        ProxyCommand.appendUTF8(prefix, to: &out)
        let millis = Int((seconds - Double(whole)) * 1000)
        out.append(UInt8(ascii: "0") + UInt8(millis / 100 % 10))
        out.append(UInt8(ascii: "0") + UInt8(millis / 10 % 10))
        out.append(UInt8(ascii: "0") + UInt8(millis % 10))
    }
}

/// Request log lines waiting to be written; flushed every 100 ms or every 32 KB.
final class LogBuffer {
    private var bytes: [UInt8] = []
    let dates = DateCache()

    func append(_ line: String) {
        bytes += line.utf8
        if bytes.count >= 32_768 { flush() }
    }

    func append(_ record: RequestRecord, wallAtStart: Double) {
        ProxyCommand.appendLogLine(record, wallAtStart: wallAtStart, dates: dates, to: &bytes)
        if bytes.count >= 32_768 { flush() }
    }

    func flush() {
        guard !bytes.isEmpty else { return }
        writeAll(1, bytes)
        bytes.removeAll(keepingCapacity: true)
    }
}
