import HadeckBase

// The VRRP configuration model: what a parsed keepalived.conf becomes.
// Defaults are keepalived 2.2.7's (keepalived.conf(5)).

/// `global_defs`.
public struct KeepalivedGlobals: Hashable, Sendable {
    public var routerID: String? = nil
    /// `vrrp_garp_master_delay`, default 5 s.
    public var garpMasterDelay = TimeSpan.seconds(5)
    /// `vrrp_garp_master_repeat`, default 5.
    public var garpMasterRepeat = 5
    /// `vrrp_garp_master_refresh`; `nil`: off.
    public var garpMasterRefresh: TimeSpan? = nil
    /// `vrrp_garp_master_refresh_repeat`, default 1.
    public var garpMasterRefreshRepeat = 1
    /// `vrrp_notify_fifo` (or `notify_fifo`): where state changes are written as
    /// `INSTANCE "VI_1" MASTER 150` lines; `hadeck node` writes them, the embedded cluster does not.
    public var notifyFIFO: String? = nil
    /// `vrrp_notify_priority_changes`: the FIFO also carries `MASTER_PRIORITY` / `BACKUP_PRIORITY` lines.
    public var notifyPriorityChanges = false

    public init() {}
}

/// What a `vrrp_script` (or `vrrp_track_process`) actually tests.
public enum TrackCheck: Hashable, Sendable {
    /// `killall -0 haproxy`, `pidof haproxy`, `pgrep haproxy`, `vrrp_track_process` on haproxy:
    /// "is this host's haproxy process alive".
    case haproxyAlive
    /// Any other script: kept for display, always treated as succeeding.
    case unsupported(command: String)
}

/// `vrrp_script NAME { ... }` or `vrrp_track_process NAME { ... }`.
public struct VRRPScriptConfig: Hashable, Sendable {
    public var name: String
    public var check: TrackCheck
    /// The script text as written, for display.
    public var script: String
    /// `interval`, default 1 s.
    public var interval = TimeSpan.seconds(1)
    /// `timeout`; `nil`: same as interval.
    public var timeout: TimeSpan? = nil
    /// `weight`, -253...253, default 0 (0: FAULT after `fall` failures).
    public var weight = 0
    /// `rise`, default 1.
    public var rise = 1
    /// `fall`, default 1.
    public var fall = 1
    public var line = 0

    public init(name: String, check: TrackCheck, script: String) {
        self.name = name
        self.check = check
        self.script = script
    }
}

/// `track_script { NAME [weight W] }`: a reference to a script, optionally overriding its weight.
public struct TrackScriptRef: Hashable, Sendable {
    public var name: String
    public var weight: Int? = nil

    public init(name: String, weight: Int? = nil) {
        self.name = name
        self.weight = weight
    }
}

/// `authentication { auth_type PASS|AH; auth_pass X }`.
public struct VRRPAuthentication: Hashable, Sendable {
    public enum AuthType: String, Hashable, Sendable {
        case pass = "PASS"
        case ah = "AH"
    }

    public var type: AuthType
    /// Only the first 8 characters are used, as in keepalived.
    public var password: String

    public init(type: AuthType, password: String) {
        self.type = type
        self.password = String(password.prefix(8))
    }
}

/// `vrrp_instance NAME { ... }`.
public struct VRRPInstanceConfig: Hashable, Sendable {
    public enum InitialState: String, Hashable, Sendable {
        case master = "MASTER"
        case backup = "BACKUP"
    }

    public var name: String
    public var initialState = InitialState.backup
    public var interface: String? = nil
    public var virtualRouterID: Int
    /// 1...255, default 100.
    public var priority = 100
    /// `advert_int`, default 1 s. VRRPv2 carries whole seconds, v3 centiseconds.
    public var advertInterval = TimeSpan.seconds(1)
    /// `version` 2 or 3, default 2.
    public var version = 2
    public var nopreempt = false
    /// `preempt_delay`, 0...1000 s.
    public var preemptDelay = TimeSpan.zero
    public var virtualIPAddresses: [String] = []
    public var unicastSourceIP: String? = nil
    public var unicastPeers: [String] = []
    public var authentication: VRRPAuthentication? = nil
    public var trackInterfaces: [String] = []
    public var trackScripts: [TrackScriptRef] = []
    /// `down_timer_adverts`, default 3.
    public var downTimerAdverts = 3
    /// `garp_master_delay` etc. at instance level override the globals.
    public var garpMasterDelay: TimeSpan? = nil
    public var garpMasterRepeat: Int? = nil
    public var garpMasterRefresh: TimeSpan? = nil
    /// `notify_master`, `notify_backup`, `notify_fault`, `notify_stop`, `notify`: kept for display only.
    public var notify: [String: String] = [:]
    public var line = 0

    public init(name: String, virtualRouterID: Int) {
        self.name = name
        self.virtualRouterID = virtualRouterID
    }
}

/// A whole parsed keepalived.conf.
public struct KeepalivedConfig: Hashable, Sendable {
    public var globals = KeepalivedGlobals()
    public var scripts: [VRRPScriptConfig] = []
    public var instances: [VRRPInstanceConfig] = []

    public init() {}

    public func script(named name: String) -> VRRPScriptConfig? { scripts.first { $0.name == name } }
}
