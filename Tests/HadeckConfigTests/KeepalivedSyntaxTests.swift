import Foundation
import HadeckBase
import Testing
import VRRPCore

@testable import HadeckConfig

private func parse(_ text: String, configID: String? = "lb1", loader: KeepalivedIncludeLoader? = nil)
    -> KeepalivedParseResult
{
    KeepalivedConfigParser.parseWithSources(
        text: text, file: "k.conf", includeLoader: loader, options: KeepalivedParseOptions(configID: configID))
}

private func messages(_ d: Diagnostics) -> [String] { d.items.map(\.description) }

private let instance = """
    vrrp_instance VI_1 {
        state MASTER
        interface eth0
        virtual_router_id 51
        priority 150
        virtual_ipaddress {
            10.0.0.10/24
        }
    }

    """

/// Items 1 and 5 of issue 14: keepalived 2.2.7's reader, checked against `keepalived -t`.
@Suite struct KeepalivedSyntaxTests {
    @Test func crlfFileReadsLikeItsLFTwin() {
        let lf = parse(instance)
        let crlf = parse(instance.replacingOccurrences(of: "\n", with: "\r\n"))
        #expect(lf.diagnostics.items.isEmpty && crlf.diagnostics.items.isEmpty)
        #expect(crlf.config == lf.config)
        #expect(crlf.config.instances.first?.virtualIPAddresses == ["10.0.0.10/24"])
    }

    /// keepalived reads a byte order mark as part of the first keyword, which it then does not know.
    @Test func byteOrderMark() {
        let r = parse("\u{FEFF}global_defs {\n    router_id lb1\n}\n" + instance)
        #expect(r.config.globals.routerID == nil)
        #expect(r.config.instances.count == 1)
        #expect(
            messages(r.diagnostics) == [
                "k.conf:1: warning: the file starts with a UTF-8 byte order mark, which keepalived 2.2.7 reads as part of the first keyword: 'global_defs' is then unknown to it and ignored, and so it is by hadeck; save the file without the mark"
            ])
    }

    @Test func hostLines() {
        let text = """
            vrrp_instance VI_1 {
                interface eth0
                virtual_router_id 51
            @lb1 priority 150
            @lb2 priority 100
            @^lb1 advert_int 3
                virtual_ipaddress {
                    10.0.0.10
                }
            }
            """
        #expect(parse(text).config.instances[0].priority == 150)
        #expect(parse(text).config.instances[0].advertInterval == .seconds(1))
        let lb2 = parse(text, configID: "lb2")
        #expect(lb2.config.instances[0].priority == 100)
        #expect(lb2.config.instances[0].advertInterval == .seconds(3))
        #expect(
            messages(lb2.diagnostics) == [
                "k.conf:4: warning: '@lb1' lines are skipped: hadeck reads this file with config id 'lb2', as keepalived -i would"
            ])
    }

    @Test func definitions() {
        let text = """
            $VIP=10.0.0.10
            $PRIO=150
            $INSTANCE=vrrp_instance VI_1 { \\
                interface eth0 \\
                virtual_router_id 51 \\
            }
            vrrp_instance VI_1 {
                interface eth0
                virtual_router_id 51
                priority ${PRIO}
                virtual_ipaddress {
                    ${VIP}/24
                    $VIP/32
                }
                notify_master "/bin/echo $_HASH master"
            }
            """
        let r = parse(text)
        let inst = r.config.instances[0]
        #expect(inst.priority == 150)
        #expect(inst.virtualIPAddresses == ["10.0.0.10/24"])
        #expect(inst.notify["notify_master"] == "/bin/echo # master")
        // `$VIP/32` is not expanded (keepalived wants a blank, ',' or ')' after the name), and
        // keepalived then rejects it as an address: "VRRP parsed invalid IP $VIP/32".
        #expect(
            messages(r.diagnostics) == [
                #"k.conf:13: error: (VI_1) virtual_ipaddress '$VIP/32' is not an IP address (keepalived: "VRRP parsed invalid IP $VIP/32. skipping IP...")"#
            ])
    }

    @Test func selfReferentialDefinitionIsBounded() {
        let r = parse("$A=$A x\nvrrp_instance V {\n    virtual_router_id $A\n}\n")
        #expect(
            r.diagnostics.errors.first?.message == "definitions expand without end (a $NAME that refers to itself?)")
    }

    @Test func includeOnlyFile() {
        let loader: KeepalivedIncludeLoader = { pattern, _ in
            switch pattern {
            case "conf.d/*.conf":
                [
                    (file: "conf.d/a.conf", text: "global_defs {\n    router_id lb1\n}\n"),
                    (file: "conf.d/b.conf", text: instance),
                ]
            default: nil
            }
        }
        let r = parse("include conf.d/*.conf\ninclude extra/*.conf\n", loader: loader)
        #expect(r.config.globals.routerID == "lb1")
        #expect(r.config.instances.map(\.name) == ["VI_1"])
        #expect(messages(r.diagnostics) == ["k.conf:2: warning: No config files matched 'extra/*.conf'."])
        #expect(r.sources.line("VI_1", "priority") == SourceLine(file: "conf.d/b.conf", line: 5))
    }

    @Test(arguments: ["smtp_alert", "use_vmac", "garp_extra_if 5", "notify_priority_changes", "vrrp_strict"])
    func knownKeywordsWarnAsNotSimulated(line: String) {
        let text =
            "vrrp_instance VI_1 {\n    \(line)\n    virtual_router_id 51\n    virtual_ipaddress {\n        10.0.0.1\n    }\n}\n"
        let keyword = line.split(separator: " ")[0]
        // vrrp_strict is a global_defs keyword: inside vrrp_instance keepalived does not know it.
        let expected =
            keyword == "vrrp_strict"
            ? "k.conf:2: warning: unknown keyword 'vrrp_strict' in vrrp_instance VI_1; ignored"
            : "k.conf:2: warning: '\(keyword)' in vrrp_instance VI_1 is not simulated by hadeck; ignored"
        #expect(messages(parse(text).diagnostics) == [expected])
    }

    @Test func invalidAddressesAreErrorsInKeepalivedsWords() {
        let text = """
            vrrp_instance VI_1 {
                virtual_router_id 51
                unicast_src_ip XX.XX.XX.115
                unicast_peer {
                    <peer_ip>
                    10.0.0.2
                }
                virtual_ipaddress {
                    <virtual_ip>
                    XX.XX.XX.116
                    10.0.0.9/40
                    fe80::1/64
                }
            }
            """
        #expect(
            messages(parse(text).diagnostics) == [
                #"k.conf:3: error: (VI_1) unicast_src_ip 'XX.XX.XX.115' is not an IP address (keepalived: "Configuration error: VRRP instance[VI_1] malformed src address[XX.XX.XX.115]. Skipping...")"#,
                #"k.conf:5: error: (VI_1) unicast_peer '<peer_ip>' is not an IP address (keepalived: "Configuration error: VRRP instance[VI_1] malformed unicast peer address[<peer_ip>]. Skipping...")"#,
                #"k.conf:9: error: (VI_1) virtual_ipaddress '<virtual_ip>' is not an IP address (keepalived: "VRRP parsed invalid IP <virtual_ip>. skipping IP...")"#,
                #"k.conf:10: error: (VI_1) virtual_ipaddress 'XX.XX.XX.116' is not an IP address (keepalived: "VRRP parsed invalid IP XX.XX.XX.116. skipping IP...")"#,
                "k.conf:11: warning: (VI_1) Invalid address prefix len 40 for address 10.0.0.9/40 - using 32",
                "k.conf:12: error: (VI_1) address family must match VRRP instance [fe80::1/64] - ignoring",
            ])
    }

    /// A warning names the options keepalived reads, never their values as if they were options.
    @Test func addressOptionsAreNamedNotTheirValues() {
        let text = """
            vrrp_instance VI_1 {
                virtual_router_id 51
                unicast_peer {
                    10.0.0.2 min_ttl 1
                }
                virtual_ipaddress {
                    10.0.0.10/24 dev eth0 label eth0:1 no_track
                }
            }
            """
        #expect(
            messages(parse(text).diagnostics) == [
                "k.conf:4: warning: (VI_1) unicast_peer: 'min_ttl' is not simulated by hadeck; ignored",
                "k.conf:7: warning: (VI_1) virtual_ipaddress: 'dev', 'label', 'no_track' are not simulated by hadeck; ignored",
            ])
    }

    @Test func bracesAndQuotesAsKeepalivedCutsThem() {
        let r = parse(
            "vrrp_instance VI_1 { virtual_router_id 7\n    virtual_ipaddress { 10.0.0.1 10.0.0.2 }\n    notify \"/bin/x {y}\"\n}\n"
        )
        #expect(r.diagnostics.errors.isEmpty)
        #expect(r.config.instances[0].virtualRouterID == 7)
        #expect(r.config.instances[0].virtualIPAddresses == ["10.0.0.1"])
        #expect(r.config.instances[0].notify["notify"] == "/bin/x {y}")
        #expect(
            parse("vrrp_script s {\n    script \"pidof haproxy\n}\n").diagnostics.errors.map(\.message) == [
                #"Unmatched quote: 'script "pidof haproxy'"#, "vrrp_script s: 'script' expects a command",
                "vrrp_script s: no 'script' given",
            ])
    }
}
