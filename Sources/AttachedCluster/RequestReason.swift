/// The reason for a request's route, in words, from what haproxy logged for it: the persistence
/// cookie it came with (`%CC`), the cookie flags of `%tsc` (its 3rd character: what the request's
/// cookie was, its 4th: what haproxy did about it), the retries and redispatch of `%rc`, and how the
/// session ended (the 1st and 2nd characters).
public enum RequestReason {
    /// `algorithm` is the backend's balancing algorithm (`show stat`'s `algo`), `cookieName` its
    /// persistence cookie (the backend row's `cookie`), `serverCookie` the cookie value of the server
    /// it went to (the server row's `cookie`): what haproxy inserted.
    public static func describe(
        _ r: HTTPLogRecord, algorithm: String? = nil, cookieName: String? = nil, serverCookie: String? = nil
    ) -> String {
        let flags = Array(r.terminationState)
        let (cause, phase, cookieSeen, cookieDone) = (flags[0], flags[1], flags[2], flags[3])
        let server = r.server ?? "no server"
        let algo = algorithm ?? "the balancing algorithm"
        let cookie = r.persistenceCookie
        let cookieText = r.requestCookie ?? "a cookie"
        var parts: [String] = []
        switch cookieSeen {
        case "N": parts.append(cookie == nil ? "no persistence cookie: \(algo) -> \(server)" : "\(algo) -> \(server)")
        case "V": parts.append("cookie \(cookieText) -> \(server)")
        case "D":
            let retried = r.retries > 0 ? " after \(r.retries) failed connection attempts" : ""
            parts.append(
                "cookie \(cookieText) names a server that is down: redispatched\(retried) by \(algo) -> \(server)")
        case "I": parts.append("invalid cookie \(cookieText): \(algo) -> \(server)")
        case "E": parts.append("expired cookie \(cookieText): \(algo) -> \(server)")
        case "O": parts.append("old cookie \(cookieText): \(algo) -> \(server)")
        case "U": parts.append("cookie \(cookieText) not checked -> \(server)")
        default: parts.append(r.server == nil ? "no server chosen" : "-> \(server)")
        }
        if cookieSeen != "D", r.redispatched {
            parts.append("redispatched after \(r.retries) failed connection attempts")
        } else if cookieSeen != "D", r.retries > 0 {
            parts.append("\(r.retries) connection retries")
        }
        switch cookieDone {
        case "I":
            let name = cookie?.name ?? cookieName
            let inserted = [name, serverCookie].compactMap { $0 }.joined(separator: "=")
            parts.append(inserted.isEmpty ? "new cookie inserted" : "new cookie \(inserted) inserted")
        case "N" where cookieSeen == "V": parts.append("cookie kept")
        case "U": parts.append("cookie updated")
        case "P": parts.append("the server set its own cookie")
        case "R": parts.append("the server's cookie rewritten")
        case "D": parts.append("cookie deleted")
        default: break
        }
        if let ending = termination(cause, phase, r) { parts.append(ending) }
        return parts.joined(separator: "; ") + " (\(r.terminationState))"
    }

    /// How the session ended, when it did not end normally (`--`).
    static func termination(_ cause: Character, _ phase: Character, _ r: HTTPLogRecord) -> String? {
        guard cause != "-" || phase != "-" else { return nil }
        if r.server == nil && r.status == 503 { return "no server available: haproxy answered 503" }
        let who: String =
            switch cause {
            case "C": "the client aborted"
            case "S": "the server aborted or refused the connection"
            case "P": "haproxy ended it (an error or a deny)"
            case "L": "haproxy answered locally"
            case "R": "a resource ran out"
            case "I": "haproxy hit an internal error"
            case "D": "haproxy killed it: the server went down"
            case "U": "haproxy killed it: a backup server came up"
            case "K": "an administrator killed it"
            case "c": "the client timed out"
            case "s": "the server timed out"
            default: "it ended"
            }
        let when: String =
            switch phase {
            case "R": " while waiting for the request"
            case "Q": " while queued"
            case "C": " while connecting to the server"
            case "H": " while waiting for the response headers"
            case "D": " during the data transfer"
            case "L": " while sending the last data"
            case "T": " while tarpitted"
            default: ""
            }
        return who + when
    }
}
