import CLinuxShims
import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Named network namespaces (`ip netns`: a bind mount under /run/netns) seen from this process.
public enum NetworkNamespace {
    /// Where `ip netns` keeps its namespaces.
    public static let directory = "/run/netns"

    /// The named namespaces that exist now.
    public static func names() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    public static func exists(_ name: String) -> Bool { inode(of: directory + "/" + name) != nil }

    /// The pids of every process whose network namespace is `name` (what `ip netns pids` prints),
    /// or of those among `candidates`.
    public static func processes(in name: String, among candidates: [Int32]? = nil) -> [Int32] {
        guard let target = inode(of: directory + "/" + name) else { return [] }
        return (candidates ?? LinuxProcess.allPids()).filter { inode(of: "/proc/\($0)/ns/net") == target }
    }

    /// A new socket (close-on-exec) that lives in namespace `name`: it is made on a thread of its own
    /// that first joins the namespace, and keeps that namespace wherever it is used afterwards. This
    /// process and its other threads stay where they are.
    public static func socket(in name: String, domain: Int32, type: Int32) throws(SocketError) -> Int32 {
        let result = try onThread(in: name) { () -> Result<Int32, SocketError> in
            let fd = Glibc.socket(domain, type | Int32(SOCK_CLOEXEC.rawValue), 0)
            return fd >= 0 ? .success(fd) : .failure(SocketError("socket in namespace \(name)"))
        }
        return try result.get()
    }

    /// Runs `body` on a new thread inside namespace `name` and returns its result.
    public static func onThread<T: Sendable>(
        in name: String, _ body: @escaping @Sendable () -> T
    ) throws(SocketError) -> T {
        let nsfd = open(directory + "/" + name, O_RDONLY | O_CLOEXEC)
        guard nsfd >= 0 else { throw SocketError("open namespace \(name)") }
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            guard hadeck_setns_network(nsfd) == 0 else {
                box.failure = SocketError("setns \(name)")
                return
            }
            box.value = body()
        }
        thread.start()
        done.wait()
        close(nsfd)
        if let failure = box.failure { throw failure }
        return box.value!
    }

    /// The (device, inode) of a namespace file: equal for two paths naming the same namespace.
    static func inode(of path: String) -> [UInt64]? {
        // open + fstat: it follows /proc/PID/ns/net's magic link to the namespace itself.
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var s = stat()
        guard fstat(fd, &s) == 0 else { return nil }
        return [UInt64(s.st_dev), UInt64(s.st_ino)]
    }
}

/// A result handed from a helper thread; the semaphore orders the accesses.
private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
    var failure: SocketError?
}
