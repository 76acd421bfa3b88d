import ClusterCore
import ClusterModel
import Dispatch
import HadeckBase
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Lines written from any thread (the live cluster's loop) and drained by the headless loop.
final class EventLines: Sendable {
    private let pending = NIOLockedValueBox<[UInt8]>([])

    func append(_ event: ClusterEvent) {
        let line = event.jsonLine + "\n"
        pending.withLockedValue { $0.append(contentsOf: line.utf8) }
    }

    func drain(into out: StandardOutput) {
        let bytes = pending.withLockedValue { buffer -> [UInt8] in
            defer { buffer.removeAll(keepingCapacity: true) }
            return buffer
        }
        if !bytes.isEmpty { out.write(String(decoding: bytes, as: UTF8.self)) }
    }
}

/// Set by SIGINT/SIGTERM so the headless loop ends cleanly (listeners closed, sockets removed).
final class StopSignal {
    private let stopped = NIOLockedValueBox(false)
    private let signals = SignalHandlers()

    init() {
        signals.on([SIGINT, SIGTERM]) { [stopped] in stopped.withLockedValue { $0 = true } }
    }

    var isSet: Bool { stopped.withLockedValue { $0 } }
}

/// `hadeck --headless`: the cluster against the wall clock, its events as JSON lines on stdout,
/// commands (the scenario language without `at`) read line by line from stdin.
enum HeadlessRunner {
    /// Runs until stdin says `quit`, `until` is reached (the cluster's clock), or SIGINT/SIGTERM.
    /// `now` reads the cluster's clock; `lines` receives the events.
    static func run(source: ClusterSource, lines: EventLines, now clusterNow: () -> Instant, until: Instant?) -> Int32 {
        let out = StandardOutput()
        var err = StandardError()
        let stop = StopSignal()
        var pendingInput: [UInt8] = []
        var stdinOpen = true
        var lineNumber = 0
        var last = monotonicMicros()
        while !stop.isSet {
            if stdinOpen {
                var fds = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
                if poll(&fds, 1, 50) > 0 {
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    let n = read(0, &buffer, buffer.count)
                    if n <= 0 {
                        stdinOpen = false
                    } else {
                        pendingInput += buffer[0..<n]
                    }
                }
            } else {
                usleep(50_000)
            }
            while let line = pendingInput.removeFirstLine() {
                lineNumber += 1
                if handle(line: line, number: lineNumber, source: source, err: &err) == false {
                    lines.drain(into: out)
                    out.flush()
                    return 0
                }
            }
            let now = monotonicMicros()
            source.advance(wallElapsed: TimeSpan(micros: now - last))
            last = now
            lines.drain(into: out)
            out.flush()
            if let until, clusterNow() >= until { return 0 }
        }
        lines.drain(into: out)
        out.flush()
        return 0
    }

    /// Applies one stdin line; returns false on `quit`.
    static func handle(line: String, number: Int, source: ClusterSource, err: inout StandardError) -> Bool {
        let words: [String]
        do { words = try ScenarioParser.tokenize(line) } catch {
            print("stdin:\(number): error: \(error)", to: &err)
            return true
        }
        guard let verb = words.first else { return true }
        let control: ControlCommand
        switch verb {
        case "quit", "exit": return false
        case "pause": control = .setPaused(true)
        case "resume": control = .setPaused(false)
        case "scale":
            guard words.count == 2, let s = Double(words[1]), s > 0 else {
                print("stdin:\(number): error: 'scale' takes a positive number (virtual seconds per second)", to: &err)
                return true
            }
            control = .setTimeScale(s)
        default:
            switch ScenarioParser.parseCommand(words) {
            case .success(let c): control = .cluster(c)
            case .failure(let m):
                print("stdin:\(number): error: \(m)", to: &err)
                return true
            }
        }
        do { _ = try source.perform(control, by: "stdin (line \(number))") } catch {
            print("stdin:\(number): error: \(error)", to: &err)
        }
        return true
    }
}

/// Microseconds on the monotonic clock.
func monotonicMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000
}
