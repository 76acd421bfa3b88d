import HadeckBase

/// `v` with exactly `digits` decimals (no Foundation, no locale).
func fixed(_ v: Double, _ digits: Int) -> String {
    guard v.isFinite else { return "-" }
    var m = 1.0
    for _ in 0..<digits { m *= 10 }
    let scaled = (abs(v) * m).rounded()
    guard scaled < 9e15 else { return v < 0 ? "-∞" : "∞" }
    let n = Int64(scaled)
    let mi = Int64(m)
    let whole = n / mi
    var s = (v < 0 && n != 0 ? "-" : "") + String(whole)
    if digits > 0 {
        let frac = String(n % mi)
        s += "." + String(repeating: "0", count: digits - frac.count) + frac
    }
    return s
}

/// A short duration: `850us`, `12ms`, `1.25s`, `95s`.
func shortSpan(_ t: TimeSpan) -> String {
    let us = t.micros
    if us < 1_000 { return "\(us)us" }
    if us < 1_000_000 { return "\(us / 1_000)ms" }
    if us < 10_000_000 { return fixed(t.seconds, 2) + "s" }
    return fixed(t.seconds, 0) + "s"
}

/// A rate: `0`, `0.5`, `12.3`, `1234`.
func shortRate(_ r: Double) -> String {
    if r == 0 { return "0" }
    if r >= 100 { return fixed(r, 0) }
    return fixed(r, 1)
}
