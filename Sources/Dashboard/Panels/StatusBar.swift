import ClusterModel

/// The line above the key bar: the filter being typed, a confirmation asked for, commands still
/// running, the last result, or what the cluster is waiting for; the view and theme on the right.
struct StatusBar: Widget {
    let s: ClusterSnapshot
    let state: DashboardState

    func render(in area: Rect, on c: inout Canvas) {
        guard area.height > 0 else { return }
        let y = area.y
        let base = c.theme[.status]
        c.buffer.fill(x: area.x, y: y, width: area.width, height: 1, " ", base)
        if let input = state.filterInput {
            let t = " filter requests (client or server): " + input
            let n = c.buffer.text(area.x, y, t, c.theme[.highlight], maxWidth: area.width)
            c.buffer.set(area.x + n, y, "█", c.theme[.highlight])
            c.buffer.text(
                area.x + n + 2, y, "Enter applies, Esc clears", c.theme[.dim], maxWidth: max(0, area.width - n - 2))
            return
        }
        var right = "\(state.backendsView == .merged ? "merged" : "per balancer")  theme \(state.themeName) "
        if !state.filter.isEmpty { right = "filter: \(state.filter)  " + right }
        let rx = max(area.x, area.right - displayWidth(right))
        c.buffer.text(rx, y, right, c.theme[.dim])
        let room = max(0, rx - area.x - 2)
        let x = area.x + 1
        if let ask = state.confirmation {
            let key = ask.key.label
            c.buffer.text(
                x, y, "press \(key) again to \(ask.consequence) (real cluster)", c.theme[.alarm], maxWidth: room)
            return
        }
        if !state.pending.isEmpty {
            // Until its answer comes, a command in flight is all the status says.
            c.buffer.text(
                x, y, "⧗ " + state.pending.joined(separator: ", ") + " …", c.theme[.transition], maxWidth: room)
            return
        }
        let left = max(0, rx - x - 1)
        if let msg = state.status {
            c.buffer.text(x, y, msg, state.statusIsError ? c.theme[.error] : base, maxWidth: left)
        } else if s.traffic.waitingForFirstMaster {
            c.buffer.text(
                x, y, "traffic waits for the first master to announce the VIP", c.theme[.transition], maxWidth: left)
        } else {
            c.buffer.text(x, y, "Tab: panel  arrows: row  Enter: details  ?: every key", c.theme[.dim], maxWidth: left)
        }
    }
}

/// The bottom line: the keys of the mode and panel in force, from the binding table.
struct KeyBar: Widget {
    let s: ClusterSnapshot
    let state: DashboardState

    func render(in area: Rect, on c: inout Canvas) {
        guard area.height > 0 else { return }
        let bar = c.theme[.keybar]
        c.buffer.fill(x: area.x, y: area.y, width: area.width, height: 1, " ", bar)
        var items: [(String, String)] = []
        var tail: [(String, String)] = []
        let mode = state.mode
        let rowScope = KeyScope.allCases.first { $0.panel == state.focus && mode == .normal }
        let partitioned = s.hosts.contains { !$0.partitionedFrom.isEmpty }
        for scope in [rowScope, .anywhere].compactMap({ $0 }) {
            for b in KeyMap.bindings where b.mode == mode && b.scope == scope {
                guard let entry = b.bar, !b.needsVirtualTime || s.source.canPause else { continue }
                var label = entry.label
                if b.command == .partition && partitioned { label = "heal" }
                if b.command == .pause && s.paused { label = "resume" }
                if b.command == .replayPause && state.replay?.paused == true { label = "resume" }
                // Help and quit end the bar whatever else fits.
                if b.command == .help || b.command == .quit {
                    tail.append((entry.key, label))
                } else {
                    items.append((entry.key, label))
                }
            }
        }
        func len(_ list: [(String, String)]) -> Int {
            list.reduce(0) { $0 + displayWidth($1.0) + displayWidth($1.1) + 3 }
        }
        while !items.isEmpty && len(items) + len(tail) + 1 > area.width { items.removeLast() }
        var x = area.x + 1
        var ks = c.theme[.key]
        if ks.bg == .default { ks.bg = bar.bg }
        for (k, label) in items + tail {
            x += c.buffer.text(x, area.y, k, ks, maxWidth: max(0, area.right - x))
            x += c.buffer.text(x, area.y, " " + label + "  ", bar, maxWidth: max(0, area.right - x))
        }
    }
}
