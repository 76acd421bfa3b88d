import BalancerCore
import Foundation
import HadeckBase
import VRRPCore

/// Which program a configuration file is for.
public enum ConfigFileKind: String, Hashable, Sendable {
    case haproxy
    case keepalived

    /// Decides from the content: keepalived's `vrrp_instance`/`vrrp_script`/`global_defs` blocks
    /// versus haproxy's `global`/`defaults`/`frontend`/`backend`/`listen` sections. `nil` when the
    /// text says nothing either way; the file name (`.cfg`/`.conf`, "haproxy"/"keepalived") breaks ties.
    public static func detect(text: String, file: String = "") -> ConfigFileKind? {
        var keepalived = 0
        var haproxy = 0
        let keepalivedWords: Set<String> = [
            "vrrp_instance", "vrrp_script", "vrrp_track_process", "global_defs", "vrrp_sync_group", "virtual_server",
        ]
        let haproxyWords: Set<String> = ["global", "defaults", "frontend", "backend", "listen"]
        // Scalars, not Characters: "\r\n" is one Character, and a CRLF file would read as one line.
        var body = Substring(text)
        if body.unicodeScalars.first == "\u{FEFF}" { body = Substring(body.unicodeScalars.dropFirst()) }
        for rawScalars in body.unicodeScalars.split(separator: "\n") {
            let rawLine = String(String.UnicodeScalarView(rawScalars))
            let line = rawLine.prefix { $0 != "#" }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard let first = words.first.map(String.init) else { continue }
            if keepalivedWords.contains(first) && (line.contains("{") || words.count <= 2) {
                keepalived += 2
            } else if haproxyWords.contains(first) && !line.contains("{") && words.count <= 4 {
                haproxy += 2
            } else if first.hasPrefix("!") || ["virtual_router_id", "virtual_ipaddress", "advert_int"].contains(first) {
                keepalived += 1
            } else if ["bind", "server", "balance", "mode", "timeout", "option"].contains(first) {
                haproxy += 1
            }
        }
        if keepalived > haproxy { return .keepalived }
        if haproxy > keepalived { return .haproxy }
        let name = (file as NSString).lastPathComponent.lowercased()
        if name.contains("keepalived") { return .keepalived }
        if name.contains("haproxy") { return .haproxy }
        if name.hasSuffix(".cfg") && keepalived + haproxy > 0 { return .haproxy }
        return nil
    }
}

/// Reading configuration files from disk, around the pure parsers.
public enum ConfigFiles {
    /// Reads a file as text: UTF-8 (a byte order mark is kept, for the parsers to judge as the real
    /// programs do), or, when the bytes are not UTF-8, Latin-1 (every byte is a character, as HAProxy
    /// and keepalived, which read bytes, see it). The error says why in plain words.
    public static func read(_ path: String) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ConfigFileError(path: path, reason: "No such file or directory")
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ConfigFileError(path: path, reason: "Is a directory")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigFileError(path: path, reason: "Permission denied")
        }
        return decode(Array(data))
    }

    /// Bytes as text: UTF-8 when valid, Latin-1 otherwise.
    public static func decode(_ bytes: [UInt8]) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return String(bytes.map { Character(Unicode.Scalar($0)) })
    }

    /// How `hadeck check` and `hadeck proxy` read a haproxy.cfg file: as HAProxy 2.6 does, with
    /// this process's environment for `"${VAR}"`.
    public static var haproxyFileOptions: HAProxyParseOptions {
        .file(environment: ProcessInfo.processInfo.environment)
    }

    /// Why a file could not be read, for `FILE: error: ...` (`no such file`, `permission denied`).
    public static func problem(reading error: Error) -> String {
        guard let e = error as? ConfigFileError else { return "\(error)" }
        return e.reason == "No such file or directory" ? "no such file" : e.reason.lowercased()
    }

    /// Reads and parses a haproxy.cfg.
    public static func loadHAProxy(path: String) throws -> (config: HAProxyConfig, diagnostics: Diagnostics) {
        HAProxyConfigParser.parse(text: try read(path), file: path, options: haproxyFileOptions)
    }

    /// How `hadeck check` reads a keepalived.conf: as keepalived does on this machine, whose host
    /// name is the default config id for `@ID` lines.
    public static var keepalivedFileOptions: KeepalivedParseOptions {
        KeepalivedParseOptions(configID: ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init))
    }

    /// Reads and parses a keepalived.conf, following `include` relative to the including file.
    public static func loadKeepalived(path: String) throws -> (config: KeepalivedConfig, diagnostics: Diagnostics) {
        KeepalivedConfigParser.parse(
            text: try read(path), file: path, includeLoader: diskIncludeLoader, options: keepalivedFileOptions)
    }

    /// Resolves `include PATTERN` on disk: relative patterns are taken from the including
    /// file's directory; `*`, `?` and `[...]` are expanded in the last path component.
    public static let diskIncludeLoader: KeepalivedIncludeLoader = { pattern, includingFile in
        var full = pattern
        if !pattern.hasPrefix("/") {
            let dir = (includingFile as NSString).deletingLastPathComponent
            full = dir.isEmpty ? pattern : dir + "/" + pattern
        }
        var paths: [String] = []
        if full.contains(where: { "*?[".contains($0) }) {
            let dir = (full as NSString).deletingLastPathComponent
            let namePattern = (full as NSString).lastPathComponent
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.isEmpty ? "." : dir)) ?? []
            paths = names.sorted().filter { fnmatch(namePattern, $0, 0) == 0 }.map { dir.isEmpty ? $0 : dir + "/" + $0 }
        } else {
            paths = [full]
        }
        let files = paths.compactMap { path in (try? read(path)).map { (file: path, text: $0) } }
        return files.isEmpty ? nil : files
    }
}

/// A configuration file that could not be read.
public struct ConfigFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The path as given.
    public var path: String
    /// Why it could not be read, e.g. "No such file or directory".
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "cannot read configuration file '\(path)': \(reason)" }
}
