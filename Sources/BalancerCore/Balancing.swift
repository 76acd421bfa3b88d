import HadeckBase

/// The static map HAProxy builds for `static-rr` and map-based hashing (lb_map.c).
struct StaticMapState {
    var signature: [Int] = []
    var map: [Int] = []
    var rrIndex = 0
}

extension Backend {
    /// srv_currently_usable(): eligible for load balancing (not for cookie persistence, which is wider).
    func usableForBalancing(_ i: Int, now: Instant) -> Bool {
        // Fields read in place: copying the whole ServerRuntime retains its strings on every request.
        guard servers[i].admin == .ready, effectiveWeight(i, now: now) > 0 else { return false }
        let state = servers[i].state
        return state == .running || state == .starting
    }

    func hasFreeSlot(_ i: Int, now: Instant) -> Bool {
        let limit = dynamicMaxconn(i, now: now)
        return limit == 0 || servers[i].served < limit
    }

    /// Usable non-backup servers count (HAProxy's srv_act).
    func activeUsableCount(now: Instant) -> Int {
        servers.indices.filter { !servers[$0].config.backup && usableForBalancing($0, now: now) }.count
    }

    /// What `nbsrv(BACKEND)` returns (be_usable_srv()): the usable active servers, or when there are
    /// none the usable backup servers.
    public func usableServerCount(now: Instant) -> Int {
        let active = activeUsableCount(now: now)
        return active > 0
            ? active : servers.indices.filter { servers[$0].config.backup && usableForBalancing($0, now: now) }.count
    }

    /// The servers balancing may pick from: usable actives; else usable backups (all of them with
    /// `allbackups`, otherwise only the first one declared). Second value: whether they are backups.
    func balancingSet(now: Instant) -> ([Int], Bool) {
        balancingScratch.removeAll(keepingCapacity: true)
        for i in servers.indices where !servers[i].config.backup && usableForBalancing(i, now: now) {
            balancingScratch.append(i)
        }
        if !balancingScratch.isEmpty { return (balancingScratch, false) }
        for i in servers.indices where servers[i].config.backup && usableForBalancing(i, now: now) {
            balancingScratch.append(i)
            if !config.allbackups { break }  // only the first one declared
        }
        return (balancingScratch, !balancingScratch.isEmpty)
    }

    /// Picks a server with the backend's algorithm, avoiding `avoid` when another choice exists.
    /// Returns nil when nothing is usable or every candidate is at its maxconn (HAProxy would queue).
    /// Also returns the balancing set it picked from and whether those are backups (the caller's
    /// reason text needs them; computing the set twice per request was measurable).
    func pick(clientAddress: String, avoid: Int?, now: Instant) -> (server: Int?, set: [Int], backups: Bool) {
        let (set, backups) = balancingSet(now: now)
        guard !set.isEmpty else { return (nil, set, backups) }
        let chosen: Int?
        switch config.balance {
        case .roundrobin: chosen = pickSmooth(set, avoid: avoid, now: now)
        case .staticRR: chosen = pickStaticRR(set, avoid: avoid, now: now)
        case .leastconn: chosen = pickLeastconn(set, avoid: avoid, now: now)
        case .source: chosen = pickSource(set, clientAddress: clientAddress, now: now)
        case .first: chosen = pickFirst(set, avoid: avoid, now: now)
        }
        if let chosen { servers[chosen].lbtot += 1 }
        return (chosen, set, backups)
    }

    private func candidates(_ set: [Int], avoid: Int?, now: Instant) -> [Int] {
        let free = set.filter { hasFreeSlot($0, now: now) }
        let withoutAvoided = free.filter { $0 != avoid }
        return withoutAvoided.isEmpty ? free : withoutAvoided
    }

    /// Smooth weighted round robin over the effective (runtime) weights: each pick adds every
    /// candidate's weight to its score, takes the highest (first declared on ties) and charges it the total.
    private func pickSmooth(_ set: [Int], avoid: Int?, now: Instant) -> Int? {
        // The candidates of `candidates(_:avoid:now:)`, without building arrays on every request.
        var others = false
        var avoidedFree = false
        for i in set where hasFreeSlot(i, now: now) {
            if i == avoid { avoidedFree = true } else { others = true }
        }
        guard others || avoidedFree else { return nil }
        let skip = others ? avoid : nil
        var total = 0
        var best: Int?
        for i in set where i != skip && hasFreeSlot(i, now: now) {
            let w = effectiveWeight(i, now: now)
            servers[i].smoothCurrent += w
            total += w
            if best == nil || servers[i].smoothCurrent > servers[best!].smoothCurrent { best = i }
        }
        if let best { servers[best].smoothCurrent -= total }
        return best
    }

    /// recalc_server_map(): spreads servers over tot_weight slots, first declared wins ties.
    func buildMap(_ set: [Int]) -> [Int] {
        let weights = set.map { servers[$0].uweight }
        let tot = weights.reduce(0, +)
        if tot == 0 { return [] }
        if set.count == 1 || tot == 1 { return Array(repeating: set[0], count: tot) }
        var score = Array(repeating: 0, count: set.count)
        var map: [Int] = []
        map.reserveCapacity(tot)
        for _ in 0..<tot {
            var best = -1
            var bestValue = 0
            for (k, w) in weights.enumerated() {
                score[k] += w
                let v = (score[k] + tot) / tot
                if best < 0 || v > bestValue {
                    bestValue = v
                    best = k
                }
            }
            map.append(set[best])
            score[best] -= tot
        }
        return map
    }

    private func currentMap(_ set: [Int]) -> [Int] {
        let signature = set.flatMap { [$0, servers[$0].uweight] }
        if signature != staticMap.signature {
            staticMap.signature = signature
            staticMap.map = buildMap(set)
            staticMap.rrIndex = staticMap.map.isEmpty ? 0 : staticMap.rrIndex % staticMap.map.count
        }
        return staticMap.map
    }

    /// map_get_server_rr(): walks the static map from the last position, skipping full servers.
    private func pickStaticRR(_ set: [Int], avoid: Int?, now: Instant) -> Int? {
        let map = currentMap(set)
        guard !map.isEmpty else { return nil }
        var idx = staticMap.rrIndex
        var avoided: Int?
        var avoidedIndex = 0
        repeat {
            let srv = map[idx]
            idx += 1
            if idx == map.count { idx = 0 }
            if hasFreeSlot(srv, now: now) {
                if srv != avoid {
                    staticMap.rrIndex = idx
                    return srv
                }
                avoided = srv
                avoidedIndex = idx
            }
        } while idx != staticMap.rrIndex
        if avoided != nil { staticMap.rrIndex = avoidedIndex }
        return avoided
    }

    /// Fewest requests in flight (served and queued) relative to weight (fwlc key
    /// (inflight + 1) * SRV_EWGHT_MAX / eweight),
    /// round robin among equally loaded servers.
    private func pickLeastconn(_ set: [Int], avoid: Int?, now: Instant) -> Int? {
        let cands = candidates(set, avoid: avoid, now: now)
        guard !cands.isEmpty else { return nil }
        let ewghtMax = 256 * 16
        func key(_ i: Int) -> Int {
            (servers[i].served + servers[i].queued + 1) * ewghtMax / max(1, effectiveWeight(i, now: now))
        }
        let lowest = cands.map(key).min()!
        let tied = cands.filter { key($0) == lowest }
        let next = tied.first { $0 >= leastconnCursor } ?? tied[0]
        leastconnCursor = next + 1
        return next
    }

    /// Map-based `balance source`: the IPv4 address as a 32-bit number (IPv6: XOR of its words),
    /// modulo the total weight, indexes the static map. No maxconn check, as in HAProxy.
    private func pickSource(_ set: [Int], clientAddress: String, now: Instant) -> Int? {
        let map = currentMap(set)
        guard !map.isEmpty else { return nil }
        if set.count == 1 { return set[0] }
        let h = sourceHash(clientAddress)
        return map[Int(h % UInt32(map.count))]
    }

    /// `balance first`: lowest id with a free connection slot.
    private func pickFirst(_ set: [Int], avoid: Int?, now: Instant) -> Int? {
        let ordered = set.sorted { servers[$0].id < servers[$1].id }
        return candidates(ordered, avoid: avoid, now: now).first
    }
}

/// The 32-bit value HAProxy's map-based source hashing uses for a client address: the IPv4
/// address in host order, or the XOR of an IPv6 address's four 32-bit words. Addresses that do
/// not parse fall back to 32-bit FNV-1a of their text so the result stays deterministic.
public func sourceHash(_ address: String) -> UInt32 {
    let host = address.split(separator: ":").count == 2 ? String(address.split(separator: ":")[0]) : address
    let parts = host.split(separator: ".", omittingEmptySubsequences: false)
    let bytes = parts.compactMap { UInt32($0) }
    if parts.count == 4, bytes.count == 4, bytes.allSatisfy({ $0 < 256 }) {
        var value: UInt32 = 0
        for b in bytes { value = (value << 8) | b }
        return value
    }
    if let words = parseIPv6(address) {
        return words.reduce(0, ^)
    }
    var h: UInt32 = 2_166_136_261
    for b in address.utf8 {
        h ^= UInt32(b)
        h = h &* 16_777_619
    }
    return h
}

private func parseIPv6(_ text: String) -> [UInt32]? {
    guard text.contains(":") else { return nil }
    var halves: [String] = []
    if let range = text.firstRange(of: "::") {
        halves = [String(text[..<range.lowerBound]), String(text[range.upperBound...])]
        if halves[1].contains("::") { return nil }
    } else {
        halves = [text]
    }
    func groups(_ s: String) -> [UInt16]? {
        if s.isEmpty { return [] }
        var out: [UInt16] = []
        for g in s.split(separator: ":", omittingEmptySubsequences: false) {
            guard let v = UInt16(g, radix: 16) else { return nil }
            out.append(v)
        }
        return out
    }
    guard let head = groups(halves[0]) else { return nil }
    var all = head
    if halves.count == 2 {
        guard let tail = groups(halves[1]), head.count + tail.count < 8 else { return nil }
        all += Array(repeating: 0, count: 8 - head.count - tail.count) + tail
    }
    guard all.count == 8 else { return nil }
    var words: [UInt32] = []
    for k in 0..<4 {
        let high = UInt32(all[2 * k]) << 16
        words.append(high | UInt32(all[2 * k + 1]))
    }
    return words
}
