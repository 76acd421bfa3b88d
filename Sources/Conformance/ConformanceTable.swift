import HadeckBase

/// The conformance table as text and as JSON.
public enum ConformanceTable {
    /// One line per row: the action's line and text, the event, real and embedded seconds after the
    /// action, the difference, the tolerance, whether it holds, and the tolerance's reason.
    public static func text(_ rows: [ConformanceRow]) -> String {
        var lines = [
            pad("line", 4, right: true) + "  " + pad("action", 22) + "  " + pad("event", 24) + "  "
                + pad("real s", 8, right: true) + "  " + pad("embedded s", 10, right: true) + "  "
                + pad("diff ms", 8, right: true) + "  " + pad("tol ms", 6, right: true) + "  ok   why"
        ]
        for r in rows {
            var what = r.what
            if let f = r.failed { what += " (\(f.real)/\(f.embedded) failed)" }
            if let v = r.verdicts {
                lines.append(
                    pad(String(r.line), 4, right: true) + "  " + pad(r.action, 22) + "  " + pad(what, 24) + "  "
                        + pad(v.real ? "yes" : "no", 8, right: true) + "  "
                        + pad(v.embedded ? "yes" : "no", 10, right: true)
                        + "  " + pad("-", 8, right: true) + "  " + pad("-", 6, right: true) + "  "
                        + (r.withinTolerance ? "yes  " : "NO   ") + r.reason)
                continue
            }
            lines.append(
                pad(String(r.line), 4, right: true) + "  " + pad(r.action, 22) + "  " + pad(what, 24) + "  "
                    + pad(seconds(r.real), 8, right: true) + "  " + pad(seconds(r.embedded), 10, right: true) + "  "
                    + pad(r.difference.map { String($0.micros / 1000) } ?? "-", 8, right: true) + "  "
                    + pad(String(r.tolerance.micros / 1000), 6, right: true) + "  "
                    + (r.withinTolerance ? "yes  " : "NO   ")
                    + (r.real == nil ? "only the embedded cluster shows it; " : "")
                    + (r.embedded == nil ? "only the real cluster shows it; " : "") + r.reason)
        }
        return lines.joined(separator: "\n")
    }

    /// `FILE:LINE: error: ...` for each row out of tolerance.
    public static func problems(_ rows: [ConformanceRow], file: String) -> [String] {
        rows.filter { !$0.withinTolerance }.map { r in
            let detail: String
            if let v = r.verdicts {
                detail = "real \(v.real ? "yes" : "no"), embedded \(v.embedded ? "yes" : "no")"
            } else if r.real == nil {
                detail = "the real cluster did not show it (embedded: \(seconds(r.embedded)) s)"
            } else if r.embedded == nil {
                detail = "the embedded cluster did not show it (real: \(seconds(r.real)) s)"
            } else {
                detail =
                    "real \(seconds(r.real)) s, embedded \(seconds(r.embedded)) s: \(abs(r.difference!.micros) / 1000) ms apart, tolerance \(r.tolerance.micros / 1000) ms"
            }
            return "\(file):\(r.line): error: after `\(r.action)`, \(r.what) is out of tolerance: \(detail)"
        }
    }

    public static func json(_ rows: [ConformanceRow]) -> JSONValue {
        .array(
            rows.map { r in
                var fields: [(String, JSONValue)] = [
                    ("line", .int(Int64(r.line))), ("action", .string(r.action)), ("event", .string(r.what)),
                    ("real", r.real.map { .double(Double($0.micros) / 1e6) } ?? .null),
                    ("embedded", r.embedded.map { .double(Double($0.micros) / 1e6) } ?? .null),
                    ("difference", r.difference.map { .double(Double($0.micros) / 1e6) } ?? .null),
                    ("tolerance", .double(Double(r.tolerance.micros) / 1e6)), ("ok", .bool(r.withinTolerance)),
                    ("reason", .string(r.reason)),
                ]
                if let v = r.verdicts {
                    fields.append(("real_verdict", .bool(v.real)))
                    fields.append(("embedded_verdict", .bool(v.embedded)))
                }
                if let f = r.failed {
                    fields.append(("failed_real", .int(Int64(f.real))))
                    fields.append(("failed_embedded", .int(Int64(f.embedded))))
                }
                return .object(fields)
            })
    }

    static func seconds(_ t: TimeSpan?) -> String {
        guard let t else { return "-" }
        let ms = t.micros / 1000
        let sign = ms < 0 ? "-" : ""
        let a = abs(ms)
        let frac = String(a % 1000)
        return "\(sign)\(a / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
    }

    static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return right ? fill + s : s + fill
    }
}
