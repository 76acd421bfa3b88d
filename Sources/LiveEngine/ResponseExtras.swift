import NIOCore

/// The header lines the proxy adds at the end of a response head, before its blank line: the
/// persistence cookie, `Cache-control: private`, the framing and the connection token.
struct ResponseExtras: Hashable {
    /// The `Set-Cookie` values replacing the server's own (when the cookie rules changed them).
    var setCookies: [String]
    var cachePrivate: Bool
    var chunked: Bool
    var connection: ConnectionToken?

    /// The lines and the blank line, as bytes.
    func render(allocator: ByteBufferAllocator) -> ByteBuffer {
        var out = allocator.buffer(capacity: 128)
        for c in setCookies {
            out.writeStaticString("Set-Cookie: ")
            out.writeString(c)
            out.writeStaticString("\r\n")
        }
        if cachePrivate { out.writeStaticString("Cache-control: private\r\n") }
        if chunked { out.writeStaticString("Transfer-Encoding: chunked\r\n") }
        switch connection {
        case .close: out.writeStaticString("Connection: close\r\n")
        case .keepAlive: out.writeStaticString("Connection: keep-alive\r\n")
        case nil: break
        }
        out.writeStaticString("\r\n")
        return out
    }
}

/// The `Connection` header value the proxy writes to a client.
enum ConnectionToken: Hashable {
    case close
    case keepAlive
}
