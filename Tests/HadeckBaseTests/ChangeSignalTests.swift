import Foundation
import HadeckBase
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct ChangeSignalTests {
    @Test func raisedUntilLoweredAndManyRaisesAreOneWakeUp() throws {
        let signal = try #require(ChangeSignal())
        #expect(!signal.isRaised)
        signal.raise()
        signal.raise()
        signal.raise()
        #expect(signal.isRaised)
        signal.lower()
        #expect(!signal.isRaised, "one lower takes back every raise before it")
        signal.raise()
        #expect(signal.isRaised, "a raise after the lower wakes again")
        signal.lower()
        #expect(!signal.isRaised)
    }

    /// A poll on the descriptor sleeps until another thread raises it.
    @Test func aRaiseFromAnotherThreadEndsAPoll() throws {
        let signal = try #require(ChangeSignal())
        let start = ContinuousClock.now
        Thread.detachNewThread {
            usleep(50_000)
            signal.raise()
        }
        var fds = pollfd(fd: signal.descriptor, events: Int16(POLLIN), revents: 0)
        let ready = poll(&fds, 1, 5_000)
        let took = ContinuousClock.now - start
        #expect(ready == 1 && took >= .milliseconds(40) && took < .seconds(4), "poll returned \(ready) after \(took)")
    }
}
