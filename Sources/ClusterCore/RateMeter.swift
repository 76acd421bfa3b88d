import HadeckBase

/// Counts events per key in one-second buckets, so rates over the last few seconds cost
/// O(keys) however heavy the traffic (the request history itself is bounded and would undercount).
///
/// Keys are small integers (`Cluster.meterSlot`: one per balancer and server name), so a bucket
/// is an array and the rates a sum of a few arrays. The rates at a second are kept until a count
/// could change them: a frame asks ten times a second, the sum changes once.
struct RateMeter {
    private var buckets: [(second: Int64, total: Int, perKey: [Int])] = []
    /// How many whole seconds the rate covers.
    let windowSeconds: Int64
    /// The last answer of `rates(at:)`, for the second it was asked at.
    private var cached: (current: Int64, total: Double, perKey: [Int64])?

    init(windowSeconds: Int64 = 5) { self.windowSeconds = windowSeconds }

    mutating func count(_ key: Int?, at time: Instant) {
        let second = time.micros / 1_000_000
        if buckets.last?.second != second {
            buckets.append((second, 0, []))
            buckets.removeAll { $0.second <= second - windowSeconds - 1 }
            cached = nil
        } else if let c = cached, second < c.current {
            // Only complete seconds count: a count in the current second changes nothing yet.
            cached = nil
        }
        let last = buckets.count - 1
        buckets[last].total += 1
        if let key {
            if key >= buckets[last].perKey.count {
                buckets[last].perKey += repeatElement(0, count: key + 1 - buckets[last].perKey.count)
            }
            buckets[last].perKey[key] += 1
        }
    }

    /// Events per second over the last `windowSeconds` complete seconds before `now`, and the
    /// count per key over them (indexed by key; a key past its end counted none).
    mutating func rates(at now: Instant) -> (total: Double, perKey: [Int64]) {
        let current = now.micros / 1_000_000
        if let c = cached, c.current == current { return (c.total, c.perKey) }
        var total = 0
        var perKey: [Int64] = []
        for b in buckets where b.second < current && b.second >= current - windowSeconds {
            total += b.total
            if b.perKey.count > perKey.count {
                perKey += repeatElement(0, count: b.perKey.count - perKey.count)
            }
            for (k, v) in b.perKey.enumerated() { perKey[k] += Int64(v) }
        }
        let result = (Double(total) / Double(windowSeconds), perKey)
        cached = (current, result.0, result.1)
        return result
    }
}
