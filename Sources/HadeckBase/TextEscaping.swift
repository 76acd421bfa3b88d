/// One escaping routine for the text formats hadeck writes: a table says what replaces which
/// character, the loop is shared.
public enum TextEscaping: Sendable {
    /// HTML text and attribute values: `&`, `<`, `>`, `"` and `'`.
    case html
    /// A Prometheus label value: `\`, `"` and line feed.
    case prometheusLabel
    /// A Prometheus `# HELP` text: `\` and line feed.
    case prometheusHelp
    /// The inside of a JSON string: `"`, `\`, and control characters.
    case json

    @inline(__always)
    private func replacement(_ c: Unicode.Scalar) -> String? {
        switch (self, c) {
        case (.html, "&"): "&amp;"
        case (.html, "<"): "&lt;"
        case (.html, ">"): "&gt;"
        case (.html, "\""): "&quot;"
        case (.html, "'"): "&#39;"
        case (.prometheusLabel, "\""), (.json, "\""): "\\\""
        case (.prometheusLabel, "\\"), (.prometheusHelp, "\\"), (.json, "\\"): "\\\\"
        case (.prometheusLabel, "\n"), (.prometheusHelp, "\n"), (.json, "\n"): "\\n"
        case (.json, "\r"): "\\r"
        case (.json, "\t"): "\\t"
        case (.json, _) where c.value < 0x20:
            "\\u00" + (c.value < 0x10 ? "0" : "") + String(c.value, radix: 16)
        default: nil
        }
    }

    /// `text` with every special character replaced.
    public func escape(_ text: String) -> String {
        var out = ""
        append(text, to: &out)
        return out
    }

    /// Appends `text`, escaped, to `out`.
    public func append(_ text: String, to out: inout String) {
        // Most texts need nothing: copy them whole.
        guard text.unicodeScalars.contains(where: { replacement($0) != nil }) else {
            out += text
            return
        }
        out.reserveCapacity(out.utf8.count + text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            if let r = replacement(scalar) { out += r } else { out.unicodeScalars.append(scalar) }
        }
    }
}
