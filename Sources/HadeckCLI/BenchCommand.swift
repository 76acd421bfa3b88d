import ArgumentParser
import ClusterCore
import ClusterModel
import Dashboard
import HadeckBase

#if canImport(Glibc)
    import Glibc
#endif

/// `hadeck bench render`: how long the dashboard takes to produce one frame under load.
public struct BenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that print figures (see BENCHMARKS.md).",
        subcommands: [RenderBench.self, FailoverBench.self]
    )

    public init() {}

    /// Said first by every benchmark: figures from a debug build are several times too slow.
    static func warnIfDebugBuild() {
        #if DEBUG
            fputsStderr(
                "hadeck bench: this is a debug build, whose figures mean little; use a release build: swift build -c release && .build/release/hadeck bench ...\n"
            )
        #endif
    }
}

/// Times snapshot + render + diff per frame with many backends and heavy traffic in the simulator.
struct RenderBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Time one dashboard frame (snapshot, render, diff) with many backends and heavy traffic."
    )

    @Option(help: "Web backends behind each balancer.") var backends = 1_000
    @Option(help: "Requests per second through the VIP.") var rate = 5_000.0
    @Option(help: "Browsers sending them.") var clients = 1_000
    @Option(help: "Frames to time.") var frames = 200
    @Option(help: "Virtual time between frames, in milliseconds (the dashboard ticks every 100 ms).") var tick = 100
    @Option(help: "Screen width.") var width = 160
    @Option(help: "Screen height.") var height = 50

    func run() throws {
        BenchCommand.warnIfDebugBuild()
        fputsStderr("hadeck bench render: warming up \(backends) backends x 2 balancers for 10 s of virtual time...\n")
        let source = SimulatedClusterSource(
            cluster: Cluster(spec: .synthetic(backends: backends, rate: rate, clients: clients)))
        source.advance(wallElapsed: .seconds(10))  // warm up: checks settled, traffic flowing
        let theme = Theme.builtin("dark")!
        var state = DashboardState()
        state.focus = .backends
        var previous = CellBuffer(width: width, height: height)
        var sim: [Int64] = []
        var snap: [Int64] = []
        var render: [Int64] = []
        var diff: [Int64] = []
        var changed = 0
        var lastProgress = monotonicNanos()
        for frame in 0..<frames {
            if monotonicNanos() - lastProgress > 2_000_000_000 {
                fputsStderr("hadeck bench render: frame \(frame) of \(frames)\n")
                lastProgress = monotonicNanos()
            }
            var t0 = monotonicNanos()
            source.advance(wallElapsed: .milliseconds(Int64(tick)))
            var t1 = monotonicNanos()
            sim.append(t1 - t0)
            t0 = t1
            let snapshot = source.snapshot(requestLimit: 200, eventLimit: 200)
            t1 = monotonicNanos()
            snap.append(t1 - t0)
            t0 = t1
            let buffer = DashboardRenderer.render(
                snapshot: snapshot, state: state, width: width, height: height, theme: theme)
            t1 = monotonicNanos()
            render.append(t1 - t0)
            t0 = t1
            changed += buffer.diff(from: previous).count
            t1 = monotonicNanos()
            diff.append(t1 - t0)
            previous = buffer
        }
        let s = source.snapshot(requestLimit: 0, eventLimit: 0)
        print(
            "hadeck bench render: \(backends) backends x \(s.hosts.count) balancers (\(s.servers.count) server rows), "
                + "\(formatRate(rate)) req/s (measured \(Int(s.requestsPerSecond.rounded()))/s, requests panel sampled 1:\(s.requestSampling)), "
                + "\(width)x\(height), \(frames) frames of \(tick) ms")
        let frame = zip(zip(snap, render), diff).map { $0.0 + $0.1 + $1 }
        for (name, values) in [
            ("snapshot", snap), ("render", render), ("diff", diff), ("frame total", frame),
            ("simulation per tick", sim),
        ] {
            print(pad(name, 20) + stats(values))
        }
        print("changed cell runs per frame: \(changed / max(1, frames))")
    }

    func stats(_ values: [Int64]) -> String {
        let sorted = values.sorted()
        func ms(_ ns: Int64) -> String {
            let us = ns / 1_000
            let frac = String(us % 1_000)
            return "\(us / 1_000)." + String(repeating: "0", count: 3 - frac.count) + frac
        }
        let mean = sorted.reduce(0, +) / Int64(max(1, sorted.count))
        let p50 = sorted[sorted.count / 2]
        let p99 = sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
        return "mean \(ms(mean)) ms   p50 \(ms(p50)) ms   p99 \(ms(p99)) ms"
    }

    func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(1, n - s.count)) }
}

/// Nanoseconds on the monotonic clock.
func monotonicNanos() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}
