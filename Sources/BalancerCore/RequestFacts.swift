/// The parts of an HTTP/1 request that routing rules look at, as byte ranges into the request head.
///
/// A byte-level parser fills it from what it already found (method, target and header ranges) and
/// the head's bytes, without building a dictionary: the rules scan the short header list when they
/// need a header, comparing names without regard to ASCII case.
public struct RequestFacts: Sendable {
    /// One header line: the name and the value (without surrounding blanks) as ranges into `head`.
    public struct Field: Hashable, Sendable {
        public var name: Range<Int>
        public var value: Range<Int>

        public init(name: Range<Int>, value: Range<Int>) {
            self.name = name
            self.value = value
        }
    }

    /// The head's bytes (or any buffer the ranges point into).
    public var head: [UInt8]
    public var method: Range<Int>
    /// The request target as sent: `/path?query`, an absolute URI, or `*`.
    public var target: Range<Int>
    /// `1.1` or `1.0`.
    public var version: String
    public var headers: [Field]
    /// The client's address, nil when unknown (then `src` ACLs do not match).
    public var source: IPAddress?
    public var sourcePort: Int

    public init(
        head: [UInt8], method: Range<Int>, target: Range<Int>, version: String = "1.1", headers: [Field],
        source: IPAddress?, sourcePort: Int = 0
    ) {
        self.head = head
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.source = source
        self.sourcePort = sourcePort
    }

    /// Builds the facts from strings (tests, the simulator): the head is laid out as HTTP/1 would.
    public init(
        method: String, target: String, headers: [(name: String, value: String)] = [], source: String = "127.0.0.1",
        sourcePort: Int = 0, version: String = "1.1"
    ) {
        var bytes = Array(method.utf8)
        let methodRange = 0..<bytes.count
        bytes.append(0x20)
        let targetStart = bytes.count
        bytes += Array(target.utf8)
        let targetRange = targetStart..<bytes.count
        bytes += Array(" HTTP/\(version)\r\n".utf8)
        var fields: [Field] = []
        for (name, value) in headers {
            let nameStart = bytes.count
            bytes += Array(name.utf8)
            let nameEnd = bytes.count
            bytes += [0x3A, 0x20]
            let valueStart = bytes.count
            bytes += Array(value.utf8)
            fields.append(Field(name: nameStart..<nameEnd, value: valueStart..<bytes.count))
            bytes += [0x0D, 0x0A]
        }
        bytes += [0x0D, 0x0A]
        self.init(
            head: bytes, method: methodRange, target: targetRange, version: version, headers: fields,
            source: IPAddress(source), sourcePort: sourcePort)
    }

    // MARK: parts of the target

    /// The path: from the first `/` of the target (after the authority of an absolute URI) up to `?`.
    public var path: Range<Int>? {
        var start = target.lowerBound
        let end = target.upperBound
        guard start < end else { return nil }
        if head[start] != 0x2F {
            // Absolute URI: skip "scheme://authority".
            guard let colon = head[start..<end].firstIndex(of: 0x3A), colon + 2 < end, head[colon + 1] == 0x2F,
                head[colon + 2] == 0x2F
            else { return nil }
            start = head[(colon + 3)..<end].firstIndex(of: 0x2F) ?? end
            if start == end { return nil }
        }
        let stop = head[start..<end].firstIndex(of: 0x3F) ?? end
        return start..<stop
    }

    /// What follows the first `?` of the target.
    public var query: Range<Int>? {
        guard let mark = head[target].firstIndex(of: 0x3F) else { return nil }
        return (mark + 1)..<target.upperBound
    }

    func bytes(_ range: Range<Int>) -> ArraySlice<UInt8> { head[range] }

    /// Whether the header at `index` is named `name` (lowercase ASCII), without regard to case.
    func header(_ index: Int, isNamed lowercaseName: [UInt8]) -> Bool {
        let range = headers[index].name
        guard range.count == lowercaseName.count else { return false }
        var k = 0
        for i in range {
            var c = head[i]
            if c >= 0x41 && c <= 0x5A { c |= 0x20 }
            if c != lowercaseName[k] { return false }
            k += 1
        }
        return true
    }
}
