import BalancerCore
import ClusterModel
import Dashboard
import Foundation
import HadeckBase
import HadeckTestSupport
import Testing

@testable import CursesTerminal

#if canImport(Glibc)
    import Glibc
#endif

/// ncurses state is global: these tests run one at a time.
@Suite(.serialized, .onItsOwnThread) struct CursesTerminalTests {
    @Test func unknownTermIsAClearError() {
        #expect(throws: CursesError.unknownTerminal("no-such-terminal-hadeck")) {
            _ = try CursesTerminal(
                term: "no-such-terminal-hadeck", outputPath: "/dev/null", inputPath: "/dev/null",
                requireTTY: false, handleSignals: false)
        }
        #expect(CursesError.unknownTerminal("xyz").description.contains("unknown terminal type 'xyz'"))
        #expect(CursesError.notATerminal("stdout").description.contains("--headless"))
    }

    @Test func headlessRenderThroughNewterm() throws {
        let t = try CursesTerminal(
            term: "xterm-256color", outputPath: "/dev/null", inputPath: "/dev/null",
            requireTTY: false, handleSignals: false)
        defer { t.restore() }
        var buf = CellBuffer(width: t.size.width, height: t.size.height)
        buf.text(0, 0, "hadeck ─ MASTER lb1 é", Style(fg: .index(46), bold: true))
        buf.box(x: 0, y: 1, width: 6, height: 3, Style(fg: .index(200), bg: .index(17)))
        t.themeChanged(.dark)
        try t.paint(buf.allRuns, clear: true)
        #expect(t.rowText(0).hasPrefix("hadeck ─ MASTER lb1 é"))
        #expect(t.rowText(1).hasPrefix("┌────┐"))
        // A second screen while one is open is refused, not a crash.
        #expect(throws: CursesError.self) {
            _ = try CursesTerminal(
                term: "xterm", outputPath: "/dev/null", inputPath: "/dev/null", requireTTY: false,
                handleSignals: false)
        }
    }

    /// The wait the idle dashboard sleeps in: the whole timeout when nothing happens, and not a
    /// moment longer than it takes for a key to be typed or a change to be raised.
    @Test func aWaitForAKeyOrAChangeEndsWithWhicheverComesFirst() throws {
        let dir = try TemporaryDirectory("curses-wait")
        let fifo = dir.file("input")
        #expect(mkfifo(fifo, 0o600) == 0)
        // Held open for writing (O_RDWR does not wait for a reader), so curses' open does not block.
        let writer = open(fifo, O_RDWR | O_NONBLOCK)
        #expect(writer >= 0)
        defer { close(writer) }
        let t = try CursesTerminal(
            term: "xterm-256color", outputPath: "/dev/null", inputPath: fifo, requireTTY: false,
            handleSignals: false)
        defer { t.restore() }
        let change = try #require(ChangeSignal())
        func timed(_ body: () throws -> Key?) rethrows -> (Key?, Duration) {
            let start = ContinuousClock.now
            let key = try body()
            return (key, ContinuousClock.now - start)
        }
        #expect(t.canWaitForChange)
        let (none, slept) = try timed { try t.readKey(timeoutMilliseconds: 300, orChange: change) }
        #expect(none == nil && slept >= .milliseconds(250), "nothing happened, yet it returned after \(slept)")

        Thread.detachNewThread {
            usleep(50_000)
            change.raise()
        }
        let (woken, tookChange) = try timed { try t.readKey(timeoutMilliseconds: 5_000, orChange: change) }
        #expect(woken == nil && tookChange < .seconds(2), "a change ended the wait after \(tookChange)")
        change.lower()

        Thread.detachNewThread {
            usleep(50_000)
            var x = UInt8(ascii: "x")
            _ = write(writer, &x, 1)
        }
        let (typed, tookKey) = try timed { try t.readKey(timeoutMilliseconds: 5_000, orChange: change) }
        #expect(typed == .char("x") && tookKey < .seconds(2), "got \(String(describing: typed)) after \(tookKey)")
    }

    @Test func sigtermSetsTheFlagInsteadOfKilling() throws {
        let t = try CursesTerminal(
            term: "xterm-256color", outputPath: "/dev/null", inputPath: "/dev/null",
            requireTTY: false, handleSignals: true)
        defer { t.restore() }
        #expect(t.pendingSignal() == nil)
        // The test runner may block signals on this thread: unblock SIGTERM here so raise() delivers it now.
        var set = sigset_t()
        var old = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, &old)
        raise(SIGTERM)
        pthread_sigmask(SIG_SETMASK, &old, nil)
        #expect(t.pendingSignal() == SIGTERM)
        // The app loop sees it on its next tick and returns 128 + 15 after restoring the terminal.
        final class Source: ClusterSource {
            func advance(wallElapsed: TimeSpan) {}
            func snapshot(requestLimit: Int, eventLimit: Int) -> ClusterSnapshot {
                ClusterSnapshot(
                    time: .zero, clusterName: "x", vip: HostPort(host: "127.0.0.99", port: 80),
                    arp: ARPSnapshot(ip: "127.0.0.99"))
            }
            func perform(_ command: ControlCommand, by actor: String) throws -> String { "" }
        }
        #expect(try DashboardApp(source: Source(), options: DashboardOptions(maxTicks: 20)).run(terminal: t) == 143)
    }

    @Test func keyDecoding() {
        #expect(CursesTerminal.decode(char: 9) == .tab)
        #expect(CursesTerminal.decode(char: 13) == .enter)
        #expect(CursesTerminal.decode(char: 27) == .escape)
        #expect(CursesTerminal.decode(char: 127) == .backspace)
        #expect(CursesTerminal.decode(char: 0x4B) == .char("K"))
    }

    /// A wide character is written once and ncurses puts the next cell's character after both of
    /// its columns; a repaint of a changed wide character keeps the rest of the row in place.
    @Test func wideCharactersPaintOnceAndKeepTheRowInLine() throws {
        let t = try CursesTerminal(
            term: "xterm-256color", outputPath: "/dev/null", inputPath: "/dev/null",
            requireTTY: false, handleSignals: false)
        defer { t.restore() }
        var buf = CellBuffer(width: t.size.width, height: t.size.height)
        buf.text(0, 0, "ab東京cd😀|", .plain)
        try t.paint(buf.allRuns, clear: true)
        // ncurses reports a wide character in both of its columns: each took exactly two, and `|`
        // is in column 10, where the buffer has it.
        #expect(t.rowText(0).hasPrefix("ab東東京京cd😀😀|"), "\(t.rowText(0))")
        var next = buf
        next.text(2, 0, "大", .plain)
        try t.paint(next.diff(from: buf), clear: false)
        #expect(t.rowText(0).hasPrefix("ab大大京京cd😀😀|"), "\(t.rowText(0))")
    }

    @Test func colourDowngrade() {
        #expect(nearestBasic(9, limit: 8) == 1)
        #expect(nearestBasic(196, limit: 8) == 1)  // pure red
        #expect(nearestBasic(46, limit: 8) == 2)  // pure green
        #expect(nearestBasic(255, limit: 8) == 7)
        #expect(nearestBasic(232, limit: 8) == 0)
    }
}
