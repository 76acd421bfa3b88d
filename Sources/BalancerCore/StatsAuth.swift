/// What `stats auth` decides for a request to the stats page.
public enum StatsAccess: Hashable, Sendable {
    /// Serve the page.
    case allowed
    /// Answer 401 with `WWW-Authenticate: Basic realm="REALM"` (HAProxy's default realm is
    /// "HAProxy Statistics").
    case challenge(realm: String)
}

extension StatsPageConfig {
    /// The realm HAProxy announces: `stats realm`, or "HAProxy Statistics".
    public var effectiveRealm: String { realm ?? "HAProxy Statistics" }

    /// Checks an `Authorization` header value (nil when the request has none) against `stats auth`:
    /// without any `stats auth` line everyone is allowed, as in HAProxy.
    public func authorize(authorization: String?) -> StatsAccess {
        if credentials.isEmpty { return .allowed }
        guard let authorization else { return .challenge(realm: effectiveRealm) }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic", let decoded = base64Decode(parts[1]),
            let colon = decoded.firstIndex(of: 0x3A)
        else { return .challenge(realm: effectiveRealm) }
        let user = String(decoding: decoded[..<colon], as: UTF8.self)
        let password = String(decoding: decoded[(colon + 1)...], as: UTF8.self)
        return credentials.contains(StatsCredential(user: user, password: password))
            ? .allowed : .challenge(realm: effectiveRealm)
    }
}

/// Standard base64 (RFC 4648), padding optional; nil on any other byte.
func base64Decode(_ text: some StringProtocol) -> [UInt8]? {
    var out: [UInt8] = []
    var buffer: UInt32 = 0
    var bits = 0
    for c in text.utf8 {
        let v: UInt32
        switch c {
        case 0x41...0x5A: v = UInt32(c - 0x41)
        case 0x61...0x7A: v = UInt32(c - 0x61 + 26)
        case 0x30...0x39: v = UInt32(c - 0x30 + 52)
        case 0x2B: v = 62
        case 0x2F: v = 63
        case 0x3D: continue
        default: return nil
        }
        buffer = buffer << 6 | v
        bits += 6
        if bits >= 8 {
            bits -= 8
            out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
        }
    }
    return out
}
