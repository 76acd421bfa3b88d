import HadeckBase

/// Counts events per key in one-second buckets, so rates over the last few seconds cost
/// O(keys) however heavy the traffic (the request history itself is bounded and would undercount).
struct RateMeter {
    private var buckets: [(second: Int64, total: Int, perKey: [String: Int])] = []
    /// How many whole seconds the rate covers.
    let windowSeconds: Int64

    init(windowSeconds: Int64 = 5) { self.windowSeconds = windowSeconds }

    mutating func count(_ key: String?, at time: Instant) {
        let second = time.micros / 1_000_000
        if buckets.last?.second != second {
            buckets.append((second, 0, [:]))
            buckets.removeAll { $0.second <= second - windowSeconds - 1 }
        }
        buckets[buckets.count - 1].total += 1
        if let key { buckets[buckets.count - 1].perKey[key, default: 0] += 1 }
    }

    /// Events per second over the last `windowSeconds` complete seconds before `now`.
    func rates(at now: Instant) -> (total: Double, perKey: [String: Int64]) {
        let current = now.micros / 1_000_000
        var total = 0
        var perKey: [String: Int64] = [:]
        for b in buckets where b.second < current && b.second >= current - windowSeconds {
            total += b.total
            for (k, v) in b.perKey { perKey[k, default: 0] += Int64(v) }
        }
        return (Double(total) / Double(windowSeconds), perKey)
    }
}
