import NIOCore

/// Every channel a balancer has open, by kind: what `stop()` closes and `show info` counts.
final class ChannelRegistry {
    /// The frontends' listening sockets.
    private(set) var listeners: [Channel] = []
    /// Client connections (accepted or adopted), server connections, health checks, runtime API connections.
    private(set) var clients: [ObjectIdentifier: Channel] = [:]
    private(set) var servers: [ObjectIdentifier: Channel] = [:]
    private(set) var checks: [ObjectIdentifier: Channel] = [:]
    private(set) var cliConnections: [ObjectIdentifier: Channel] = [:]
    /// The stats sockets: their listening channels and the files this balancer created.
    private(set) var statsListeners: [(channel: Channel, file: StatsSocketFile)] = []

    enum Kind {
        case client, server, check, cli
    }

    func addListener(_ channel: Channel) { listeners.append(channel) }

    func addStatsListener(_ channel: Channel, file: StatsSocketFile) { statsListeners.append((channel, file)) }

    /// Registers a connection and unregisters it when it closes.
    func add(_ channel: Channel, as kind: Kind) {
        let id = ObjectIdentifier(channel)
        set(kind, id, channel)
        channel.closeFuture.assumeIsolated().whenComplete { [weak self] _ in self?.set(kind, id, nil) }
    }

    func remove(_ channel: Channel, as kind: Kind) { set(kind, ObjectIdentifier(channel), nil) }

    private func set(_ kind: Kind, _ id: ObjectIdentifier, _ channel: Channel?) {
        switch kind {
        case .client: clients[id] = channel
        case .server: servers[id] = channel
        case .check: checks[id] = channel
        case .cli: cliConnections[id] = channel
        }
    }

    /// Listening sockets of every kind.
    var listenerCount: Int { listeners.count + statsListeners.count }
    /// Every open channel: HAProxy's `Tasks` counts about as many.
    var taskCount: Int { listeners.count + clients.count + servers.count + checks.count + cliConnections.count }

    /// Forgets every channel and returns them (listeners first), with the stats socket files to remove.
    func takeAll() -> (channels: [Channel], socketFiles: [StatsSocketFile]) {
        let channels =
            listeners + Array(clients.values) + Array(servers.values) + Array(checks.values)
            + statsListeners.map(\.channel) + Array(cliConnections.values)
        let files = statsListeners.map(\.file)
        listeners = []
        statsListeners = []
        return (channels, files)
    }
}
