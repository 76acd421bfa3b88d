import Foundation
import RealCluster
import Testing

@testable import Lab

/// One JSON event line of `hadeck attach --headless`, its fields as text.
struct AttachEvent: Sendable, CustomStringConvertible {
    var t: Double
    var type: String
    var fields: [String: String]
    var line: String

    subscript(_ key: String) -> String? { fields[key] }

    var description: String { line }

    init?(_ line: String) {
        guard let data = line.data(using: .utf8),
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
            let t = object["t"] as? Double, let type = object["type"] as? String
        else { return nil }
        self.t = t
        self.type = type
        self.line = line
        fields = object.mapValues { "\($0)" }
    }
}

/// `hadeck attach FILE --headless` on a lab, as a person would run it: commands on its stdin, JSON
/// events read from its stdout as they come. Its audit log and stderr go to a directory of its own,
/// removed with it.
final class HeadlessAttach: @unchecked Sendable {
    let stream: ProgramStream
    let directory: String
    private let lock = NSLock()
    private var seen: [AttachEvent] = []

    var auditLog: String { directory + "/audit.log" }
    var stderrPath: String { directory + "/stderr.txt" }

    init(_ lab: Lab, _ extra: [String] = [], refresh: String = "1s") throws {
        var template = Array((NSTemporaryDirectory() + "hadeck-attach-test-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw LabError.failed("mkdtemp: cannot make a directory")
        }
        directory = String(cString: made)
        stream = try ProgramStream(
            [
                LabEnvironment.hadeck, "attach", lab.layout.attachFile, "--headless", "--refresh", refresh,
                "--audit-log", directory + "/audit.log",
            ] + extra, stdin: true, stderr: directory + "/stderr.txt")
    }

    deinit {
        stream.terminate()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Every event read so far.
    var events: [AttachEvent] {
        lock.lock()
        defer { lock.unlock() }
        return seen
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Sends one stdin line.
    func send(_ command: String) throws { try stream.send(command + "\n") }

    /// Reads events until one (among those not yet matched before `after`) satisfies `match`, or
    /// `within` passes (then nil). Blocks: call it through `Blocking.run`.
    func waitFor(within: Duration, after: Double = -1, _ match: (AttachEvent) -> Bool) -> AttachEvent? {
        if let e = events.first(where: { $0.t > after && match($0) }) { return e }
        let deadline = ContinuousClock.now + within
        while ContinuousClock.now < deadline {
            switch stream.nextLine(timeout: deadline - ContinuousClock.now) {
            case .line(let line):
                guard let e = AttachEvent(line) else { continue }
                lock.lock()
                seen.append(e)
                lock.unlock()
                if e.t > after && match(e) { return e }
            case .timeout, .ended: return nil
            }
        }
        return nil
    }

    /// Waits for the state the lab's baseline has: lb1 MASTER (from its data dump), the client on lb1's MAC.
    func waitAttached() -> Bool {
        waitFor(within: .seconds(5)) { $0.type == "vrrp.state" && $0["node"] == "lb1" && $0["to"] == "MASTER" } != nil
            && waitFor(within: .seconds(3)) { $0.type == "arp.update" && $0["node"] == "lb1" } != nil
    }

    /// `quit` on stdin; its exit status.
    func quit() -> Int32? {
        try? send("quit")
        stream.closeInput()
        while case .line(let line) = stream.nextLine(timeout: .seconds(3)) {
            if let e = AttachEvent(line) {
                lock.lock()
                seen.append(e)
                lock.unlock()
            }
        }
        return stream.waitForExit(timeout: .seconds(5))
    }
}

/// `hadeck ...` to its end, with its output.
func hadeck(_ args: [String], timeout: Duration = .seconds(30)) throws -> ProgramOutput {
    try ProgramRunner.run([LabEnvironment.hadeck] + args, timeout: timeout)
}
