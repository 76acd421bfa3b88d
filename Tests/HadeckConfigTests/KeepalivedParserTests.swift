import HadeckBase
import Testing
import VRRPCore

@testable import HadeckConfig

private func parse(_ text: String) -> (config: KeepalivedConfig, diagnostics: Diagnostics) {
    KeepalivedConfigParser.parse(text: text, file: "k.conf")
}

private func messages(_ d: Diagnostics) -> [String] { d.items.map(\.description) }

/// An instance with one extra line.
private func instance(_ line: String, vrid: Bool = true) -> (VRRPInstanceConfig?, Diagnostics) {
    let (c, d) = parse(
        """
        vrrp_instance VI_1 {
            \(vrid ? "virtual_router_id 51" : "")
            \(line)
            virtual_ipaddress {
                127.0.0.99
            }
        }
        """)
    return (c.instances.first, d)
}

@Suite struct KeepalivedParserTests {
    @Test func fullInstance() throws {
        let (c, d) = parse(
            """
            ! comment
            global_defs {
                router_id lb1   # trailing comment
                vrrp_garp_master_delay 3
                vrrp_garp_master_repeat 4
                vrrp_garp_master_refresh 60
                vrrp_garp_master_refresh_repeat 2
            }
            vrrp_script chk_haproxy {
                script "killall -0 haproxy"
                interval 2
                timeout 1.5
                weight -60
                fall 2
                rise 1
            }
            vrrp_track_process track_haproxy {
                process haproxy
                weight -50
            }
            vrrp_instance VI_1 {
                state MASTER
                interface lo
                virtual_router_id 51
                priority 150
                advert_int 1
                version 2
                unicast_src_ip 127.0.1.1
                unicast_peer {
                    127.0.1.2
                }
                authentication {
                    auth_type PASS
                    auth_pass averylongpassword
                }
                virtual_ipaddress {
                    127.0.0.99
                }
                track_script {
                    chk_haproxy
                    track_haproxy weight -20
                }
                track_interface {
                    lo
                }
                down_timer_adverts 4
                garp_master_delay 1
                garp_master_repeat 2
                garp_master_refresh 30
                notify_master "/bin/echo master"
                notify /bin/notify.sh
            }
            """)
        #expect(messages(d) == ["k.conf:34: warning: (VI_1) Truncating auth_pass to 8 characters"])
        #expect(c.globals.routerID == "lb1")
        #expect(c.globals.garpMasterDelay == .seconds(3))
        #expect(c.globals.garpMasterRepeat == 4)
        #expect(c.globals.garpMasterRefresh == .seconds(60))
        #expect(c.globals.garpMasterRefreshRepeat == 2)
        let script = try #require(c.script(named: "chk_haproxy"))
        #expect(script.check == .haproxyAlive)
        #expect(script.script == "killall -0 haproxy")
        #expect(script.interval == .seconds(2))
        #expect(script.timeout == .fractionalSeconds(1.5))
        #expect(script.weight == -60)
        #expect(script.fall == 2)
        #expect(script.rise == 1)
        #expect(script.line == 9)
        let process = try #require(c.script(named: "track_haproxy"))
        #expect(process.check == .haproxyAlive)
        #expect(process.weight == -50)
        let inst = try #require(c.instances.first)
        #expect(inst.name == "VI_1")
        #expect(inst.initialState == .master)
        #expect(inst.interface == "lo")
        #expect(inst.virtualRouterID == 51)
        #expect(inst.priority == 150)
        #expect(inst.advertInterval == .seconds(1))
        #expect(inst.version == 2)
        #expect(inst.unicastSourceIP == "127.0.1.1")
        #expect(inst.unicastPeers == ["127.0.1.2"])
        #expect(inst.authentication == VRRPAuthentication(type: .pass, password: "averylon"))
        #expect(inst.virtualIPAddresses == ["127.0.0.99"])
        #expect(
            inst.trackScripts == [
                TrackScriptRef(name: "chk_haproxy"), TrackScriptRef(name: "track_haproxy", weight: -20),
            ])
        #expect(inst.trackInterfaces == ["lo"])
        #expect(inst.downTimerAdverts == 4)
        #expect(inst.garpMasterDelay == .seconds(1))
        #expect(inst.garpMasterRepeat == 2)
        #expect(inst.garpMasterRefresh == .seconds(30))
        #expect(inst.notify == ["notify_master": "/bin/echo master", "notify": "/bin/notify.sh"])
        #expect(inst.line == 21)
    }

    /// What `hadeck node` writes to, like keepalived; the embedded cluster has no FIFO.
    @Test func notifyFIFOSettings() {
        let (c, d) = parse(
            "global_defs {\n    vrrp_notify_fifo /run/k.fifo\n    vrrp_notify_priority_changes true\n}\n")
        #expect(d.items.isEmpty)
        #expect(c.globals.notifyFIFO == "/run/k.fifo" && c.globals.notifyPriorityChanges)
        let (off, _) = parse("global_defs {\n    notify_fifo /run/k.fifo\n    vrrp_notify_priority_changes off\n}\n")
        #expect(off.globals.notifyFIFO == "/run/k.fifo" && !off.globals.notifyPriorityChanges)
        #expect(parse("global_defs {\n    vrrp_notify_priority_changes\n}\n").config.globals.notifyPriorityChanges)
        #expect(!parse("").config.globals.notifyPriorityChanges && parse("").config.globals.notifyFIFO == nil)
    }

    @Test func defaults() throws {
        let (inst, d) = instance("")
        #expect(d.items.isEmpty)
        let i = try #require(inst)
        #expect(i.initialState == .backup && i.priority == 100 && i.advertInterval == .seconds(1) && i.version == 2)
        #expect(!i.nopreempt && i.preemptDelay == .zero && i.downTimerAdverts == 3)
    }

    @Test(arguments: [
        ("killall -0 haproxy", true), ("/usr/bin/killall -0 haproxy", true), ("pidof haproxy", true),
        ("/bin/pidof haproxy", true), ("pgrep haproxy", true), ("pgrep -x haproxy", true),
        ("'killall' -0 'haproxy'", true), ("killall haproxy", false), ("killall -0 nginx", false),
        ("/etc/keepalived/check.sh", false), ("curl -sf http://127.0.0.1/", false),
    ])
    func classification(script: String, alive: Bool) {
        #expect((KeepalivedConfigParser.classify(script: script) == .haproxyAlive) == alive)
    }

    @Test func unsupportedScriptWarns() {
        let (c, d) = parse(
            """
            vrrp_script chk {
                script "/etc/keepalived/check.sh --fast"
            }
            """)
        #expect(c.scripts.first?.check == .unsupported(command: "/etc/keepalived/check.sh --fast"))
        #expect(
            messages(d) == [
                #"k.conf:2: warning: script "/etc/keepalived/check.sh --fast" is not simulated; hadeck treats it as always succeeding"#
            ])
    }

    @Test func versionThreeAdvert() {
        let (c, d) = parse(
            """
            vrrp_instance V {
                version 3
                advert_int 0.5
                virtual_router_id 9
                virtual_ipaddress { 127.0.0.99 }
            }
            """)
        #expect(d.items.isEmpty)
        #expect(c.instances.first?.advertInterval == .milliseconds(500))
        #expect(c.instances.first?.virtualIPAddresses == ["127.0.0.99"])
    }

    @Test(arguments: [
        ("priority 0", "k.conf:3: error: (VI_1) Priority '0' not valid! must be between 1 & 255"),
        ("priority 256", "k.conf:3: error: (VI_1) Priority '256' not valid! must be between 1 & 255"),
        (
            "advert_int 0.5",
            "k.conf:3: error: (VI_1) advert_int '0.5' not valid for VRRP version 2: must be a whole number of seconds between 1 and 255"
        ),
        ("advert_int abc", "k.conf:3: error: (VI_1) Advert interval (abc) not valid! Must be > 0"),
        ("version 4", "k.conf:3: error: (VI_1) Version '4' not valid: must be either 2 or 3"),
        ("preempt_delay 1001", "k.conf:3: error: (VI_1) Preempt_delay '1001' not valid! must be between 0-1000"),
        (
            "down_timer_adverts 0",
            "k.conf:3: error: (VI_1) 'down_timer_adverts' value '0' is invalid (must be between 1 and 100)"
        ),
        (
            "mcast_src_ip 1.2.3.4",
            "k.conf:3: warning: 'mcast_src_ip' in vrrp_instance VI_1 is not simulated by hadeck; ignored"
        ),
        ("state SLAVE", "k.conf:3: warning: (VI_1) unknown state 'SLAVE', defaulting to BACKUP"),
    ])
    func instanceProblems(line: String, message: String) {
        #expect(messages(instance(line).1) == [message])
    }

    @Test func vridErrors() {
        #expect(messages(instance("", vrid: false).1) == ["k.conf:1: error: (VI_1) the virtual router id must be set"])
        #expect(
            messages(instance("virtual_router_id 0", vrid: false).1) == [
                "k.conf:3: error: (VI_1) VRID '0' not valid - must be between 1 & 255"
            ])
    }

    @Test func nopreemptWithMaster() {
        let (i, d) = instance("state MASTER\n    nopreempt")
        #expect(i?.nopreempt == false)
        #expect(
            messages(d) == [
                "k.conf:4: warning: (VI_1) Warning - nopreempt will not work with initial state MASTER - clearing"
            ])
        let (b, d2) = instance("state BACKUP\n    nopreempt")
        #expect(b?.nopreempt == true)
        #expect(d2.items.isEmpty)
    }

    @Test func scriptProblems() {
        let (_, d) = parse(
            """
            vrrp_script a {
                script "pidof haproxy"
                weight 254
                rise 0
            }
            vrrp_script b {
                interval 2
            }
            vrrp_instance VI_1 {
                virtual_router_id 1
                virtual_ipaddress {
                    127.0.0.99
                }
                track_script {
                    a weight -254
                    missing
                }
            }
            """)
        #expect(
            messages(d) == [
                "k.conf:3: error: vrrp_script a: weight '254' must be between -253 and 253",
                "k.conf:4: error: vrrp_script a: 'rise' value '0' is invalid (must be between 1 and 1000000)",
                "k.conf:6: error: vrrp_script b: no 'script' given",
                "k.conf:15: error: (VI_1) track_script a: weight '-254' must be between -253 and 253",
                "k.conf:16: error: (VI_1) track_script 'missing' not found: no vrrp_script or vrrp_track_process with that name",
            ])
    }

    @Test func braces() {
        #expect(
            messages(
                parse("vrrp_instance VI_1 {\n    virtual_router_id 5\n    virtual_ipaddress {\n        127.0.0.99\n}\n")
                    .diagnostics)
                == ["k.conf:1: error: unbalanced braces: block 'vrrp_instance VI_1' is never closed"])
        #expect(
            messages(parse("global_defs {\n}\n}\n").diagnostics) == [
                "k.conf:3: error: unbalanced braces: '}' has no matching '{'"
            ])
        // A brace on the line after its keyword is accepted.
        let (c, d) = parse(
            "vrrp_instance VI_1\n{\n    virtual_router_id 5\n    virtual_ipaddress\n    {\n        127.0.0.99\n    }\n}\n"
        )
        #expect(d.items.isEmpty)
        #expect(c.instances.first?.virtualRouterID == 5)
    }

    @Test func includes() {
        let loader: KeepalivedIncludeLoader = { pattern, _ in
            pattern == "scripts.conf"
                ? [(file: "scripts.conf", text: "vrrp_script chk {\n    script \"pgrep haproxy\"\n    weight 500\n}\n")]
                : nil
        }
        let text = "include scripts.conf\ninclude nothing.conf\n"
        let (c, d) = KeepalivedConfigParser.parse(text: text, file: "k.conf", includeLoader: loader)
        #expect(c.scripts.map(\.name) == ["chk"])
        #expect(
            messages(d) == [
                "k.conf:2: error: Config files missing 'nothing.conf': keepalived 2.2.7 only logs this and runs without them; hadeck is stricter and refuses a configuration it cannot read whole",
                "scripts.conf:3: error: vrrp_script chk: weight '500' must be between -253 and 253",
            ])
        #expect(
            messages(parse("include x.conf\n").diagnostics) == [
                "k.conf:1: warning: include 'x.conf' is not followed here (no file access); its content is ignored"
            ])
    }
}

@Suite struct FileKindTests {
    @Test func detection() {
        #expect(ConfigFileKind.detect(text: "global\n    daemon\nlisten web\n    bind :80\n") == .haproxy)
        #expect(ConfigFileKind.detect(text: "vrrp_instance VI_1 {\n    state MASTER\n}\n") == .keepalived)
        #expect(ConfigFileKind.detect(text: "global_defs {\n}\n") == .keepalived)
        #expect(ConfigFileKind.detect(text: "hello\n") == nil)
        #expect(ConfigFileKind.detect(text: "", file: "/etc/keepalived/keepalived.conf") == .keepalived)
    }
}
