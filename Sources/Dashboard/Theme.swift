import Foundation
import HadeckBase

/// What a style is for. Theme files assign a style to each role by its raw name.
public enum ThemeRole: String, CaseIterable, Hashable, Sendable {
    case normal, header, title, focus, up, down, transition, drain, maint, master, backup, fault, alarm
    case highlight, dim, selection, keybar, key, caption, status, error, bar
    case jvm1, jvm2, jvm3, jvm4, jvm5, jvm6

    /// The colours given to jvmRoutes, in order of first appearance.
    public static let routes: [ThemeRole] = [.jvm1, .jvm2, .jvm3, .jvm4, .jvm5, .jvm6]
}

/// A broken theme file: `file:line: error: message`.
public typealias ThemeError = Diagnostic

/// A set of styles by role.
public struct Theme: Hashable, Sendable {
    public var name: String
    public var styles: [ThemeRole: Style]

    public init(name: String, styles: [ThemeRole: Style]) {
        self.name = name
        self.styles = styles
    }

    /// The style of a role; roles the file leaves out use `normal`.
    public subscript(role: ThemeRole) -> Style { styles[role] ?? styles[.normal] ?? .plain }

    /// Whether any role uses a colour (false for `mono`).
    public var usesColor: Bool {
        styles.values.contains { $0.fg != .default || $0.bg != .default }
    }

    /// The names of the themes compiled into the binary, in the order `T` cycles through them.
    public static let builtinNames = ["dark", "light", "presenter", "mono"]

    /// The built-in theme of that name (always parses: tests check it).
    public static func builtin(_ name: String) -> Theme? {
        guard let text = builtinThemeFiles[name] else { return nil }
        return try? parse(text, name: name, file: "\(name).theme (built in)")
    }

    /// The default theme.
    public static var dark: Theme { builtin("dark") ?? Theme(name: "dark", styles: [.normal: Style()]) }
    public static var mono: Theme { builtin("mono") ?? Theme(name: "mono", styles: [.normal: Style()]) }

    static let colorNames: [String: Int] = [
        "black": 0, "red": 1, "green": 2, "yellow": 3, "blue": 4, "magenta": 5, "cyan": 6, "white": 7,
        "gray": 8, "grey": 8, "bright-black": 8, "bright-red": 9, "bright-green": 10, "bright-yellow": 11,
        "bright-blue": 12, "bright-magenta": 13, "bright-cyan": 14, "bright-white": 15,
    ]

    /// Parses a theme file. Format (see Themes/README.md):
    ///
    ///     # comment
    ///     role = FG [on BG] [, attr attr ...]
    ///
    /// Colours: a name (`red`, `bright-cyan`, `default`...) or a 256-colour number `0`...`255`.
    /// Attributes: `bold`, `underline`, `reverse`. `role = bold` (attributes only) is allowed.
    public static func parse(_ text: String, name: String, file: String) throws(ThemeError) -> Theme {
        var styles: [ThemeRole: Style] = [:]
        var lineNo = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            var line = Substring(raw)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            func fail(_ message: String) -> ThemeError { ThemeError(.error, file: file, line: lineNo, message) }
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw fail("expected `role = colour [on colour] [, attributes]`, got `\(trimmed)`")
            }
            let key = trimmed[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            guard let role = ThemeRole(rawValue: key) else {
                throw fail(
                    "unknown role `\(key)` (known: \(ThemeRole.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            if styles[role] != nil { throw fail("role `\(key)` is set twice") }
            let value = trimmed[trimmed.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            var style = Style()
            var colourPart = value
            var attrPart = ""
            if let comma = value.firstIndex(of: ",") {
                colourPart = value[..<comma].trimmingCharacters(in: .whitespaces)
                attrPart = value[value.index(after: comma)...].trimmingCharacters(in: .whitespaces)
            }
            var words = colourPart.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { $0.lowercased() }
            // Attributes alone (`role = bold reverse`, `role = reverse, bold`) need no colour.
            if !words.isEmpty, words.allSatisfy({ ["bold", "underline", "reverse"].contains($0) }) {
                attrPart = (words + [attrPart]).joined(separator: " ")
                words = []
            }
            func colour(_ w: String) throws(ThemeError) -> TermColor {
                if w == "default" { return .default }
                if let n = colorNames[w] { return .index(n) }
                if let n = Int(w) {
                    guard (0...255).contains(n) else { throw fail("colour number \(n) is out of range 0...255") }
                    return .index(n)
                }
                throw fail("unknown colour `\(w)` (use a name such as red or bright-cyan, default, or 0...255)")
            }
            switch words.count {
            case 0: break
            case 1: style.fg = try colour(words[0])
            case 2 where words[0] == "on": style.bg = try colour(words[1])
            case 3 where words[1] == "on":
                style.fg = try colour(words[0])
                style.bg = try colour(words[2])
            default: throw fail("expected `FG`, `FG on BG` or `on BG`, got `\(colourPart)`")
            }
            for a in attrPart.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }) {
                switch a.lowercased() {
                case "bold": style.bold = true
                case "underline": style.underline = true
                case "reverse": style.reverse = true
                case "none", "normal": break
                default: throw fail("unknown attribute `\(a)` (use bold, underline, reverse)")
                }
            }
            styles[role] = style
        }
        if styles[.normal] == nil { styles[.normal] = Style() }
        return Theme(name: name, styles: styles)
    }
}

/// How the dashboard picked its theme, and what went wrong if anything.
public struct ThemeChoice: Sendable {
    public var theme: Theme
    /// A one-line message for the status bar (e.g. a broken file's `file:line`), nil when all went well.
    public var message: String?
    /// NO_COLOR was set: the theme is mono and stays mono.
    public var noColor: Bool
}

extension Theme {
    /// Whether `NO_COLOR` asks for no colour (any non-empty value, per no-color.org).
    public static func noColorRequested(_ environment: [String: String]) -> Bool {
        !(environment["NO_COLOR"] ?? "").isEmpty
    }

    /// Loads a theme by name (looked up as `NAME.theme` in `directories`, then among the built-in copies)
    /// or by path (anything containing `/` or ending in `.theme`). `nil` means the default, `dark`.
    /// `NO_COLOR` forces `mono`. A broken or missing file gives a message and the default theme.
    public static func load(
        _ nameOrPath: String?, directories: [String] = [], environment: [String: String] = [:]
    ) -> ThemeChoice {
        if noColorRequested(environment) {
            return ThemeChoice(theme: .mono, message: nil, noColor: true)
        }
        guard let nameOrPath, !nameOrPath.isEmpty else {
            return ThemeChoice(theme: .dark, message: nil, noColor: false)
        }
        func fromFile(_ path: String) -> ThemeChoice? {
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            let name = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            guard let data = FileManager.default.contents(atPath: path) else {
                return ThemeChoice(
                    theme: .dark, message: "\(path): cannot read the file; using the dark theme", noColor: false)
            }
            guard let text = String(validating: data, as: UTF8.self) else {
                // Name the first line that is not UTF-8 text, as for any other mistake in the file.
                var line = 1
                for chunk in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
                    if String(validating: chunk, as: UTF8.self) == nil { break }
                    line += 1
                }
                return ThemeChoice(
                    theme: .dark,
                    message: "\(path):\(line): error: not UTF-8 text (a theme is a text file); using the dark theme",
                    noColor: false)
            }
            do {
                return ThemeChoice(theme: try parse(text, name: name, file: path), message: nil, noColor: false)
            } catch {
                return ThemeChoice(theme: .dark, message: "\(error.description); using the dark theme", noColor: false)
            }
        }
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".theme") {
            return fromFile(nameOrPath)
                ?? ThemeChoice(
                    theme: .dark, message: "\(nameOrPath): no such theme file; using the dark theme", noColor: false)
        }
        for dir in directories {
            if let c = fromFile((dir as NSString).appendingPathComponent("\(nameOrPath).theme")) { return c }
        }
        if let t = builtin(nameOrPath) { return ThemeChoice(theme: t, message: nil, noColor: false) }
        return ThemeChoice(
            theme: .dark,
            message:
                "unknown theme `\(nameOrPath)` (built in: \(builtinNames.joined(separator: ", "))); using the dark theme",
            noColor: false)
    }

    /// The directories searched for `NAME.theme`: `$HADECK_THEMES`, then `./Themes`.
    public static func defaultDirectories(environment: [String: String]) -> [String] {
        var dirs: [String] = []
        if let d = environment["HADECK_THEMES"], !d.isEmpty { dirs.append(d) }
        dirs.append("Themes")
        return dirs
    }
}
