/// A JSON value with a deterministic encoding (object keys keep insertion order).
public enum JSONValue: Hashable, Sendable {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool { a.encoded == b.encoded }
    public func hash(into h: inout Hasher) { h.combine(encoded) }

    /// Compact JSON text. Doubles print with up to six decimals and no trailing zeros,
    /// so virtual-time output is byte-identical across runs and machines.
    public var encoded: String {
        var out = ""
        encode(into: &out)
        return out
    }

    public func encode(into out: inout String) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64)
        encode(into: &bytes)
        out += String(decoding: bytes, as: UTF8.self)
    }

    /// The same text as UTF-8 bytes: a line built of many values (`hadeck simulate --json` writes
    /// one per event) is appended to one byte buffer, which costs a fraction of String's appends.
    public func encode(into out: inout [UInt8]) {
        switch self {
        case .string(let s): encodeJSONString(s, into: &out)
        case .int(let i): appendDecimal(i, into: &out)
        case .double(let d):
            if d.isFinite {
                appendSeconds(Int64((d * 1_000_000).rounded()), into: &out)
            } else {
                out += "null".utf8
            }
        case .bool(let b): out += (b ? "true" : "false").utf8
        case .null: out += "null".utf8
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.encode(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let pairs):
            out.append(UInt8(ascii: "{"))
            for (i, (k, v)) in pairs.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                encodeJSONString(k, into: &out)
                out.append(UInt8(ascii: ":"))
                v.encode(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }
}

/// `String(value)`'s digits, appended without a String in between.
func appendDecimal(_ value: Int64, into out: inout [UInt8]) {
    if value < 0 { out.append(UInt8(ascii: "-")) }
    appendDigits(value.magnitude, minimumCount: 1, into: &out)
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

func encodeJSONString(_ s: String, into out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    // Nearly every string has nothing to escape: its bytes are appended whole; the rest goes
    // through the one JSON escaper.
    var s = s
    let plain = s.withUTF8 { bytes in
        guard !bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
            return false
        }
        out.append(contentsOf: bytes)
        return true
    }
    if !plain { out += TextEscaping.json.escape(s).utf8 }
    out.append(UInt8(ascii: "\""))
}
