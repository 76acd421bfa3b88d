import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What `stat` says about a path, in the few forms hadeck needs.
public enum FileFacts {
    /// (device, inode): equal while the path names the same file; changes when it is replaced.
    public static func identity(_ path: String) -> [UInt64]? {
        var s = stat()
        guard stat(path, &s) == 0 else { return nil }
        return [UInt64(s.st_dev), UInt64(s.st_ino)]
    }

    /// Modification time (seconds, nanoseconds) and size: changes whenever the file is written.
    public static func stamp(_ path: String) -> [Int]? {
        var s = stat()
        guard stat(path, &s) == 0 else { return nil }
        return [s.st_mtim.tv_sec, s.st_mtim.tv_nsec, Int(s.st_size)]
    }

    /// Whether something exists at `path` (not following a symbolic link), and whether it is a socket.
    public static func socketKind(_ path: String) -> (exists: Bool, isSocket: Bool) {
        var s = stat()
        guard lstat(path, &s) == 0 else { return (false, false) }
        return (true, s.st_mode & S_IFMT == S_IFSOCK)
    }
}
