/// A message about a configuration or scenario file, tied to a place in it.
///
/// Printed like compilers and `haproxy -c` do: `FILE:LINE: warning: message`.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible, Error {
    /// `notice` is informational (HAProxy's `.notice` lines); only `error` makes a file invalid.
    public enum Severity: String, Sendable { case notice, warning, error }

    public var severity: Severity
    public var file: String
    public var line: Int
    public var message: String

    public init(_ severity: Severity, file: String, line: Int, _ message: String) {
        self.severity = severity
        self.file = file
        self.line = line
        self.message = message
    }

    /// Line 0 means the file as a whole (it is missing, or unreadable): `FILE: error: message`.
    public var description: String {
        line > 0 ? "\(file):\(line): \(severity.rawValue): \(message)" : "\(file): \(severity.rawValue): \(message)"
    }
}

/// Diagnostics gathered while reading one or more files.
public struct Diagnostics: Sendable, Error {
    public private(set) var items: [Diagnostic] = []

    public init() {}

    public mutating func notice(_ file: String, _ line: Int, _ message: String) {
        items.append(Diagnostic(.notice, file: file, line: line, message))
    }

    public mutating func warn(_ file: String, _ line: Int, _ message: String) {
        items.append(Diagnostic(.warning, file: file, line: line, message))
    }

    public mutating func error(_ file: String, _ line: Int, _ message: String) {
        items.append(Diagnostic(.error, file: file, line: line, message))
    }

    public mutating func append(contentsOf other: Diagnostics) { items += other.items }

    public var hasErrors: Bool { items.contains { $0.severity == .error } }
    public var errors: [Diagnostic] { items.filter { $0.severity == .error } }
    public var warnings: [Diagnostic] { items.filter { $0.severity == .warning } }
}
