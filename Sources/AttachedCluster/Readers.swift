import AttachConfig
import Dispatch
import Foundation
import HadeckBase
import RealCluster

#if canImport(Glibc)
    import Glibc
#endif

/// The reading threads: each blocks on one thing (a socket, a FIFO, a program) with a deadline,
/// hands what it read to `deliver`, and ends when the source shuts down.
extension AttachedClusterSource {
    func startReaders(firstRound: DispatchGroup) {
        for b in file.balancers {
            if let haproxy = b.haproxy {
                thread(firstRound) { [self] first in statsLoop(b.name, haproxy.stats, first) }
            }
            if let fifo = b.keepalived?.fifo {
                thread(nil) { [self] _ in fifoLoop(b, fifo) }
            }
            if b.keepalived?.data != nil {
                thread(firstRound) { [self] first in dumpLoop(b, first) }
            }
        }
        thread(firstRound) { [self] first in processLoop(first) }
        if let client = file.client {
            if let poll = client.neighbours {
                thread(firstRound) { [self] first in
                    neighbourPollLoop(poll, monitored: client.neighbourEvents != nil, first)
                }
            }
            if let events = client.neighbourEvents { thread(nil) { [self] _ in neighbourMonitorLoop(events) } }
        }
    }

    /// Runs `body` on a thread of its own; `first()` marks the end of its first round.
    private func thread(
        _ firstRound: DispatchGroup?, _ body: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void
    ) {
        threads.enter()
        firstRound?.enter()
        let once = Once()
        let t = Thread { [threads] in
            body { once.run { firstRound?.leave() } }
            once.run { firstRound?.leave() }
            threads.leave()
        }
        t.stackSize = 256 * 1024
        t.start()
    }

    // MARK: haproxy

    private func statsLoop(_ b: String, _ address: StatsSocketAddress, _ first: () -> Void) {
        let timeout = Duration.milliseconds(max(2000, options.refresh.milliseconds * 2))
        while isRunning {
            do {
                deliver(.stats(balancer: b, try RuntimeAPI.status(address, timeout: timeout)))
            } catch {
                deliver(.statsFailed(balancer: b, "\(address): \(error)"))
            }
            first()
            _ = statsWake[b]!.wait(timeout: .now() + options.refresh.seconds)
        }
    }

    // MARK: keepalived

    /// Follows the notify FIFO. Lines already waiting when it opens were written before hadeck came:
    /// they are dropped (the data dump says the state now).
    private func fifoLoop(_ b: BalancerAccess, _ source: Readable) {
        let name = b.name
        var backoff = 1.0
        while isRunning {
            switch source {
            case .file(let path):
                let reader: NotifyFIFOReader
                do { reader = try NotifyFIFOReader(path: path) } catch {
                    deliver(.notifyFeed(balancer: name, open: false, "cannot open \(path): \(error.reason)"))
                    sleep(seconds: backoff)
                    backoff = min(10, backoff * 2)
                    continue
                }
                _ = reader.availableLines()
                deliver(.notifyFeed(balancer: name, open: true, nil))
                dumpWake[name]?.signal()
                let identity = FileFacts.identity(path)
                var checked = ContinuousClock.now
                while isRunning {
                    if let line = reader.nextLine(timeout: .milliseconds(500)) {
                        if let n = NotifyLine.parse(Substring(line)) { deliver(.notify(balancer: name, n)) }
                    }
                    // Held open read-write, a FIFO never ends: notice one that was removed or replaced.
                    if ContinuousClock.now - checked > .seconds(2) {
                        checked = ContinuousClock.now
                        if FileFacts.identity(path) != identity {
                            deliver(.notifyFeed(balancer: name, open: false, "\(path) was removed or replaced"))
                            break
                        }
                    }
                }
            case .command(let template):
                guard let stream = startStream(template, values: ["host": name, "vip": file.vip]) else {
                    deliver(.notifyFeed(balancer: name, open: false, "cannot run `\(template)`"))
                    sleep(seconds: backoff)
                    backoff = min(10, backoff * 2)
                    continue
                }
                deliver(.notifyFeed(balancer: name, open: true, nil))
                let opened = ContinuousClock.now
                dumpWake[name]?.signal()
                reading: while isRunning {
                    switch stream.nextLine(timeout: .milliseconds(500)) {
                    case .line(let line):
                        // What a fresh `cat` of the FIFO gets at once was waiting there: old news.
                        if ContinuousClock.now - opened < .milliseconds(300) { continue }
                        if let n = NotifyLine.parse(Substring(line)) { deliver(.notify(balancer: name, n)) }
                    case .timeout: continue
                    case .ended(let status):
                        deliver(
                            .notifyFeed(
                                balancer: name, open: false, "`\(template)` ended (exit \(status))"))
                        break reading
                    }
                }
                forget(stream)
                if isRunning { sleep(seconds: 2) }
            }
        }
    }

    /// Asks keepalived for its data dump whenever the state wants one (and once at start).
    private func dumpLoop(_ b: BalancerAccess, _ first: () -> Void) {
        guard let k = b.keepalived, let data = k.data else { return }
        var pendingFirst = true
        while isRunning {
            let requested = now()
            let values = withState { Controls.values($0.balancers[b.name]!, $0) }
            do {
                let dump = try readDump(k, data, values)
                deliver(.dump(balancer: b.name, dump, requested: requested))
            } catch {
                deliver(.dumpFailed(balancer: b.name, error.description))
            }
            if pendingFirst {
                pendingFirst = false
                first()
            }
            // Wait for the next request (shutdown signals too); several at once make one dump.
            while isRunning, dumpWake[b.name]!.wait(timeout: .now() + 5) == .timedOut {}
            usleep(20_000)
            while dumpWake[b.name]!.wait(timeout: .now()) == .success {}
        }
    }

    private func readDump(_ k: KeepalivedAccess, _ data: Readable, _ values: [String: String]) throws(AttachError)
        -> KeepalivedDataDump
    {
        var v = values
        if let pid = values["keepalived_pid"] { v["pid"] = pid }
        guard let dump = k.dump else {
            return KeepalivedDataDump.parse(try read(data, values: v, what: "the data dump"))
        }
        guard v["pid"] != nil || !dump.placeholders.contains("pid") else {
            throw AttachError("keepalived is not running: no data dump")
        }
        if case .file(let path) = data {
            let before = FileFacts.stamp(path)
            try command(dump, v, what: "the data dump command")
            let deadline = ContinuousClock.now + .milliseconds(1500)
            while ContinuousClock.now < deadline {
                usleep(5_000)
                let stamp = FileFacts.stamp(path)
                guard stamp != nil, stamp != before, let text = try? String(contentsOfFile: path, encoding: .utf8),
                    KeepalivedDataDump.isComplete(text)
                else { continue }
                usleep(5_000)
                guard FileFacts.stamp(path) == stamp else { continue }
                return KeepalivedDataDump.parse(text)
            }
            throw AttachError("keepalived wrote no data dump to \(path) within 1.5 s of `\(dump)`")
        }
        try command(dump, v, what: "the data dump command")
        for _ in 0..<5 {
            usleep(150_000)
            let text = try read(data, values: v, what: "the data dump")
            if KeepalivedDataDump.isComplete(text) { return KeepalivedDataDump.parse(text) }
        }
        throw AttachError("the data dump read by `\(data)` is incomplete")
    }

    private func read(_ r: Readable, values: [String: String], what: String) throws(AttachError) -> String {
        do { return try AttachCommands.read(r, values: values, what: what) } catch {
            throw AttachError(error.description)
        }
    }

    private func command(_ t: CommandTemplate, _ values: [String: String], what: String) throws(AttachError) {
        do { try AttachCommands.run(t, values: values, what: what, timeout: .seconds(5)) } catch {
            throw AttachError(error.description)
        }
    }

    // MARK: Processes

    /// Reads every pid source each refresh (a pid command, which may go over ssh, every 5th).
    private func processLoop(_ first: () -> Void) {
        var round = 0
        while isRunning {
            let commands = round % 5 == 0
            for b in file.balancers {
                let values = withState { Controls.values($0.balancers[b.name]!, $0) }
                func reading(_ r: Readable?, _ program: String) -> PIDReading? {
                    guard let r else { return nil }
                    if case .command = r, !commands { return nil }
                    return readPID(r, program: program, values: values)
                }
                let r = ProcessReadings(
                    haproxy: reading(b.haproxy?.pid, "haproxy"), keepalived: reading(b.keepalived?.pid, "keepalived"),
                    vrrp: reading(b.keepalived?.vrrpPid, "keepalived"))
                if r.haproxy != nil || r.keepalived != nil || r.vrrp != nil {
                    deliver(.processes(balancer: b.name, r))
                }
            }
            for s in file.servers {
                guard let pid = s.pid else { continue }
                if case .command = pid, !commands { continue }
                deliver(.app(server: s.name, readPID(pid, program: nil, values: ["server": s.name, "vip": file.vip])))
            }
            first()
            round += 1
            _ = processWake.wait(timeout: .now() + options.refresh.seconds)
        }
    }

    /// A pid file read here is checked in /proc (running, not a zombie, the right program); a pid
    /// command (remote) is taken at its word: exit 0 with a pid is running, exit 1 or no pid is none.
    func readPID(_ r: Readable, program: String?, values: [String: String]) -> PIDReading {
        switch r {
        case .file(let path):
            guard let pid = LinuxProcess.readPidFile(path), let s = LinuxProcess.stat(pid), s.isRunning else {
                return .notRunning
            }
            if let program, s.command != program { return .notRunning }
            return .running(pid)
        case .command(let template):
            do {
                let argv = try template.render(values)
                let out = try ProgramRunner.run(argv, timeout: .seconds(5))
                if out.succeeded { return LinuxProcess.parsePid(out.stdout).map(PIDReading.running) ?? .notRunning }
                if out.status == 1 { return .notRunning }
                return .unknown("`\(template)`: exit \(out.status) \(out.firstErrorLine)")
            } catch {
                return .unknown("`\(template)`: \(error)")
            }
        }
    }

    // MARK: The client's neighbour table

    private func neighbourPollLoop(_ template: CommandTemplate, monitored: Bool, _ first: () -> Void) {
        while isRunning {
            do {
                let argv = try template.render(["vip": file.vip])
                let out = try ProgramRunner.run(argv, timeout: .seconds(5))
                if out.succeeded {
                    let entry = NeighbourEntry.parseJSON(out.stdout).first { $0.address == file.vip }
                    deliver(.neighbour(entry, source: "`\(CommandTemplate(argv).description)`"))
                } else {
                    deliver(.neighbourFailed("`\(template)`: exit \(out.status) \(out.firstErrorLine)"))
                }
            } catch {
                deliver(.neighbourFailed("`\(template)`: \(error)"))
            }
            first()
            // With `ip monitor neigh` pushing changes, the table is read again only now and then.
            sleep(seconds: monitored ? 10 : options.refresh.seconds)
        }
    }

    private func neighbourMonitorLoop(_ template: CommandTemplate) {
        while isRunning {
            guard let stream = startStream(template, values: ["vip": file.vip]) else {
                sleep(seconds: 5)
                continue
            }
            let label = "`\(CommandTemplate(stream.arguments).description)`"
            reading: while isRunning {
                switch stream.nextLine(timeout: .milliseconds(500)) {
                case .line(let line):
                    if let entry = NeighbourEntry.parseLine(Substring(line)), entry.address == file.vip {
                        deliver(.neighbour(entry, source: label))
                    }
                case .timeout: continue
                case .ended: break reading
                }
            }
            forget(stream)
            if isRunning { sleep(seconds: 2) }
        }
    }

    // MARK: Helpers

    private func startStream(_ template: CommandTemplate, values: [String: String]) -> ProgramStream? {
        guard let argv = try? template.render(values), let stream = try? ProgramStream(argv) else { return nil }
        streamsLock.lock()
        streams.append(stream)
        streamsLock.unlock()
        return stream
    }

    private func forget(_ stream: ProgramStream) {
        stream.terminate(grace: .milliseconds(300))
        streamsLock.lock()
        streams.removeAll { $0 === stream }
        streamsLock.unlock()
    }

    /// Sleeps up to `seconds`, waking at once when the source shuts down (no polling: an
    /// attached dashboard that wakes 20 times a second per thread costs more than hatop).
    private func sleep(seconds: Double) {
        let deadline = Date(timeIntervalSinceNow: seconds)
        stopping.lock()
        while isRunning && Date() < deadline { _ = stopping.wait(until: deadline) }
        stopping.unlock()
    }
}

/// Runs a closure once, whoever calls it first.
final class Once: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    func run(_ body: () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        guard !done else { return }
        done = true
        body()
    }
}
