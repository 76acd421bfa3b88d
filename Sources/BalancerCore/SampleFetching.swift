// Sample fetches and converters on a request (HAProxy's src/http_fetch.c semantics for the ones
// hadeck evaluates): `hdr()` yields every comma-separated value of every occurrence, `req.fhdr()`
// whole values, `req.cook()` the value of each cookie with that name.

extension RequestRouter {
    func fetch(_ expression: SampleExpression, _ context: SampleContext) -> [SampleValue] {
        var samples = rawFetch(expression.fetch, context)
        for converter in expression.converters {
            samples = samples.compactMap { convert($0, converter) }
        }
        return samples
    }

    private func rawFetch(_ fetch: SampleFetch, _ context: SampleContext) -> [SampleValue] {
        let r = context.request
        switch fetch {
        case .path:
            return r.path.map { [.bytes(Array(r.bytes($0)))] } ?? []
        case .pathQuery:
            guard let path = r.path else { return [] }
            return [.bytes(Array(r.bytes(path.lowerBound..<r.target.upperBound)))]
        case .url:
            return [.bytes(Array(r.bytes(r.target)))]
        case .query:
            return r.query.map { [.bytes(Array(r.bytes($0)))] } ?? []
        case .base:
            guard let host = firstHeaderValue("host", r), let path = r.path else { return [] }
            return [.bytes(Array(host.utf8) + Array(r.bytes(path)))]
        case .urlParameter(let name):
            guard let query = r.query else { return [] }
            var out: [SampleValue] = []
            for pair in r.bytes(query).split(separator: 0x26, omittingEmptySubsequences: true) {
                let parts = pair.split(separator: 0x3D, maxSplits: 1, omittingEmptySubsequences: false)
                if Array(parts[0]) == Array(name.utf8) { out.append(.bytes(parts.count > 1 ? Array(parts[1]) : [])) }
            }
            return out
        case .method:
            return [.bytes(Array(r.bytes(r.method)))]
        case .source:
            return r.source.map { [.address($0)] } ?? []
        case .sourcePort:
            return [.integer(r.sourcePort)]
        case .header(let name):
            return headerValues(name, r, split: true).map { .bytes($0) }
        case .fullHeader(let name):
            return headerValues(name, r, split: false).map { .bytes($0) }
        case .headerCount(let name):
            return [.integer(headerValues(name, r, split: true).count)]
        case .cookie(let name):
            return cookies(r).filter { name == nil || $0.name == Array(name!.utf8) }.map { .bytes($0.value) }
                .prefix(name == nil ? 1 : Int.max).map { $0 }
        case .cookieCount(let name):
            return [.integer(cookies(r).filter { name == nil || $0.name == Array(name!.utf8) }.count)]
        case .usableServers(let backend):
            return [.integer(context.usableServers(backend ?? context.proxy))]
        case .httpVersion:
            return [.bytes(Array(r.version.utf8))]
        case .responseHeader(let name):
            let lower = name?.lowercased()
            return context.responseHeaders.filter { lower == nil || $0.name.lowercased() == lower }
                .flatMap { splitValues(Array($0.value.utf8)) }.map { .bytes($0) }
        case .status:
            return context.responseStatus.map { [.integer($0)] } ?? []
        case .alwaysTrue:
            return [.boolean(true)]
        case .alwaysFalse:
            return [.boolean(false)]
        case .constant(let text):
            return [.bytes(Array(text.utf8))]
        case .unsupported:
            return []
        }
    }

    private func convert(_ sample: SampleValue, _ converter: SampleConverter) -> SampleValue? {
        switch converter {
        case .lower:
            return .bytes(sample.asBytes.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 })
        case .upper:
            return .bytes(sample.asBytes.map { $0 >= 0x61 && $0 <= 0x7A ? $0 & ~0x20 : $0 })
        case .length:
            return .integer(sample.asBytes.count)
        case .field(let index, let delimiters), .word(let index, let delimiters):
            let isWord: Bool = if case .word = converter { true } else { false }
            let set = Set(delimiters.utf8)
            var parts = sample.asBytes.split(omittingEmptySubsequences: isWord) { set.contains($0) }.map(Array.init)
            if !isWord, sample.asBytes.isEmpty { parts = [[]] }
            let k = index > 0 ? index - 1 : parts.count + index
            guard index != 0, k >= 0, k < parts.count else { return isWord ? nil : .bytes([]) }
            return .bytes(parts[k])
        case .regsub(let pattern, let replacement, let global, let ignoreCase):
            let text = String(decoding: sample.asBytes, as: UTF8.self)
            let out = regexes.replace(pattern, ignoreCase: ignoreCase, in: text, with: replacement, global: global)
            return .bytes(Array(out.utf8))
        case .unsupported:
            return nil
        }
    }

    func firstHeaderValue(_ lowercaseName: String, _ r: RequestFacts) -> String? {
        headerValues(lowercaseName, r, split: false).first.map { String(decoding: $0, as: UTF8.self) }
    }

    /// Values of the headers named `name` (all headers when nil); `split` cuts them at commas
    /// and trims blanks, as `hdr()` does.
    private func headerValues(_ name: String?, _ r: RequestFacts, split: Bool) -> [[UInt8]] {
        let lower = name.map { Array($0.lowercased().utf8) }
        var out: [[UInt8]] = []
        for index in r.headers.indices where lower == nil || r.header(index, isNamed: lower!) {
            let value = Array(r.bytes(r.headers[index].value))
            if split { out += splitValues(value) } else { out.append(value) }
        }
        return out
    }

    private func splitValues(_ value: [UInt8]) -> [[UInt8]] {
        value.split(separator: 0x2C, omittingEmptySubsequences: false).map { part in
            var s = part[...]
            while let f = s.first, f == 0x20 || f == 0x09 { s = s.dropFirst() }
            while let l = s.last, l == 0x20 || l == 0x09 { s = s.dropLast() }
            return Array(s)
        }
    }

    private func cookies(_ r: RequestFacts) -> [(name: [UInt8], value: [UInt8])] {
        let cookie = Array("cookie".utf8)
        var out: [(name: [UInt8], value: [UInt8])] = []
        for index in r.headers.indices where r.header(index, isNamed: cookie) {
            for raw in r.bytes(r.headers[index].value).split(separator: 0x3B) {
                var item = raw[...]
                while let f = item.first, f == 0x20 || f == 0x09 { item = item.dropFirst() }
                guard let eq = item.firstIndex(of: 0x3D) else { continue }
                var name = item[..<eq]
                while let l = name.last, l == 0x20 || l == 0x09 { name = name.dropLast() }
                var value = item[(eq + 1)...]
                while let f = value.first, f == 0x20 || f == 0x09 { value = value.dropFirst() }
                while let l = value.last, l == 0x20 || l == 0x09 { value = value.dropLast() }
                out.append((Array(name), Array(value)))
            }
        }
        return out
    }
}
