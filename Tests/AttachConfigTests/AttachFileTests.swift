import Foundation
import HadeckBase
import Testing

@testable import AttachConfig

/// The repository root, found from this file's path.
private let repositoryRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

/// The README's example: two remote balancer hosts, TCP stats sockets, syslog over UDP, keepalived over ssh.
let remoteExample = """
    version: 1
    name: shop
    vip: 192.0.2.10:80
    client:
      neighbours: [ip, -j, neigh, show, "{vip}"]
      neighbour_events: [ip, monitor, neigh]
    balancers:
      lb1:
        address: 192.0.2.11
        mac: "52:54:00:12:34:11"
        haproxy:
          stats: ipv4@192.0.2.11:9999
          log: udp@192.0.2.5:5141
          pid: {command: [ssh, lb1, pgrep, -o, -x, haproxy]}
          kill: [ssh, lb1, pkill, -KILL, -x, haproxy]
          start: [ssh, lb1, systemctl, start, haproxy]
        keepalived:
          instance: VI_1
          fifo: {command: [ssh, lb1, cat, /run/keepalived.fifo]}
          data: {command: [ssh, lb1, cat, /tmp/keepalived.data]}
          dump: [ssh, lb1, kill, -USR1, "{pid}"]
          pid: {command: [ssh, lb1, pgrep, -o, -x, keepalived]}
          kill: [ssh, lb1, "pkill -STOP -x keepalived; pkill -KILL -x keepalived"]
          stop: [ssh, lb1, systemctl, stop, keepalived]
          start: [ssh, lb1, systemctl, start, keepalived]
        power:
          off: [ipmitool, -H, lb1-bmc, -U, admin, -f, /root/.ipmi, chassis, power, off]
          on: [ipmitool, -H, lb1-bmc, -U, admin, -f, /root/.ipmi, chassis, power, on]
      lb2:
        address: 192.0.2.12
        haproxy:
          stats: ipv4@192.0.2.12:9999
          log: udp@192.0.2.5:5142
        keepalived:
          fifo: {command: [ssh, lb2, cat, /run/keepalived.fifo]}
    """

@Suite struct AttachFileTests {
    @Test func readsTheRemoteExample() throws {
        let (file, diags) = AttachFile.parse(remoteExample, file: "shop.yaml")
        #expect(diags.items.isEmpty, "\(diags.items)")
        let f = try #require(file)
        #expect(f.version == 1 && f.name == "shop" && f.vip == "192.0.2.10" && f.port == 80)
        #expect(f.balancers.map(\.name) == ["lb1", "lb2"])
        let lb1 = try #require(f.balancer("lb1"))
        #expect(lb1.mac == "52:54:00:12:34:11")
        #expect(lb1.haproxy?.stats == .tcp(host: "192.0.2.11", port: 9999))
        #expect(lb1.haproxy?.log == .udp(host: "192.0.2.5", port: 5141))
        guard case .command(let pidCommand) = lb1.haproxy?.pid else {
            Issue.record("lb1's haproxy pid should be a command")
            return
        }
        #expect(pidCommand.arguments == ["ssh", "lb1", "pgrep", "-o", "-x", "haproxy"] && pidCommand.line == 14)
        #expect(lb1.haproxy?.kill?.arguments == ["ssh", "lb1", "pkill", "-KILL", "-x", "haproxy"])
        #expect(lb1.keepalived?.instance == "VI_1")
        #expect(lb1.power?.off?.arguments.last == "off")
        #expect(f.client?.neighbours?.placeholders == ["vip"])
        #expect(f.balancer("lb2")?.keepalived?.kill == nil, "what the file leaves out stays unknown")
    }

    @Test func readmeExampleIsTheOneTested() throws {
        let readme = try String(contentsOfFile: repositoryRoot + "/README.md", encoding: .utf8)
        let shown = readme.contains(remoteExample)
        #expect(shown, "the README's remote attach file differs from the tested one")
    }

    @Test func placeholdersAreWholeArgumentsAndValuesNeverSpliced() throws {
        let t = CommandTemplate(["kill", "-9", "{pid}", "{vrrp_pid}"])
        #expect(try t.render(["pid": "42", "vrrp_pid": "43"]) == ["kill", "-9", "42", "43"])
        // A value with shell syntax stays one argument, as it is.
        #expect(try t.render(["pid": "1; rm -rf /", "vrrp_pid": "$(x)"]) == ["kill", "-9", "1; rm -rf /", "$(x)"])
        #expect(throws: CommandTemplateError.unknownValue("vrrp_pid")) { try t.render(["pid": "1"]) }
        // Text that merely contains braces is not a placeholder.
        #expect(try CommandTemplate(["echo", "{}", "{a b}"]).render([:]) == ["echo", "{}", "{a b}"])
    }

    @Test func errorsNameFileAndLine() {
        let text = """
            version: 1
            vip: 10.77.0.10
            balancers:
              lb1:
                haproxy:
                  stats: relative.sock
                  kill: [kill, -9, "--pid={pid}"]
                  start: [systemctl, start, "{nonsense}"]
                keepalived:
                  fifo: fifo-without-slash
                  stop: "kill -TERM 12"
              lb2:
                colour: blue
            """
        let (file, diags) = AttachFile.parse(text, file: "bad.yaml")
        #expect(file == nil)
        let lines = diags.items.map(\.description)
        #expect(
            lines.contains(
                "bad.yaml:6: error: lb1 haproxy stats 'relative.sock' is neither an absolute unix socket path nor ipv4@HOST:PORT"
            ), "\(lines)")
        #expect(
            lines.contains {
                $0.hasPrefix(
                    "bad.yaml:7: error: lb1 haproxy kill: '--pid={pid}': a placeholder must be a whole argument")
            })
        #expect(lines.contains { $0.hasPrefix("bad.yaml:8: error: lb1 haproxy start: unknown placeholder {nonsense}") })
        #expect(lines.contains("bad.yaml:10: error: lb1 keepalived fifo 'fifo-without-slash' must be an absolute path"))
        #expect(lines.contains { $0.hasPrefix("bad.yaml:11: error: lb1 keepalived stop must be a command as a list") })
        #expect(lines.contains("bad.yaml:13: warning: unknown key 'colour' of balancer 'lb2' ignored"))
        #expect(
            lines.contains { $0.hasPrefix("bad.yaml:12: error: balancer 'lb2' has neither 'haproxy' nor 'keepalived'") }
        )
    }

    @Test func versionIsRequiredAndChecked() {
        let (none, d1) = AttachFile.parse("vip: 10.0.0.1\nbalancers:\n  lb1: {haproxy: {stats: /s}}\n", file: "a.yaml")
        #expect(none == nil)
        #expect(
            d1.errors.map(\.description) == [
                "a.yaml:1: error: the attach file has no 'version' (write 'version: 1' at the top)"
            ])
        let (two, d2) = AttachFile.parse(
            "version: 2\nvip: 10.0.0.1\nbalancers:\n  lb1: {haproxy: {stats: /s}}\n", file: "b.yaml")
        #expect(two == nil)
        #expect(
            d2.errors.map(\.description) == [
                "b.yaml:1: error: attach file version 2 is not supported: this hadeck reads version 1"
            ])
    }

    /// Yams reads `1:2:...` as a base-60 integer and traps when it overflows Int (found by fuzzing the cluster file).
    @Test func aSexagesimalVersionBeyondIntIsAnErrorNotATrap() {
        let (file, d) = AttachFile.parse(
            "version: 1:2:3:4:5:6:7:8:9:10:11:12\nvip: 10.0.0.1\nbalancers:\n  lb1: {haproxy: {stats: /s}}\n",
            file: "a.yaml")
        #expect(file == nil)
        #expect(
            d.errors.first?.description
                == "a.yaml:1: error: version must be a whole number (this hadeck reads version 1)")
    }

    @Test func notYAMLAndEmpty() {
        let (a, d1) = AttachFile.parse("version: 1\nvip: [unclosed\n", file: "x.yaml")
        #expect(a == nil && d1.errors.first?.description.hasPrefix("x.yaml:") == true)
        #expect(d1.errors.first?.message.hasPrefix("not valid YAML") == true)
        let (b, d2) = AttachFile.parse("", file: "e.yaml")
        #expect(b == nil && d2.errors.first?.line == 1)
    }

    /// Yams recurses per level: an attach file 20,000 levels deep would overflow the stack. It is
    /// refused unread, as a cluster file is.
    @Test func aDeepFileIsRefusedUnread() {
        let deep = "version: 1\nvip: " + String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000)
        let (file, d) = AttachFile.parse(deep + "\n", file: "deep.yaml")
        #expect(file == nil)
        #expect(
            d.errors.map(\.description) == [
                "deep.yaml:2: error: the attach file nests 20001 levels deep here; hadeck reads at most 64 (an attach file needs 5)"
            ])
    }

    @Test func writtenFilesReadBackTheSame() throws {
        let (parsed, _) = AttachFile.parse(remoteExample, file: "shop.yaml")
        let original = try #require(parsed)
        let text = original.yaml(header: ["a comment"])
        #expect(text.hasPrefix("# a comment\nversion: 1\n"))
        let (again, diags) = AttachFile.parse(text, file: "again.yaml")
        #expect(diags.items.isEmpty, "\(diags.items)\n\(text)")
        #expect(try #require(again).yaml() == original.yaml())
    }

    @Test func scalarsNeedingQuotesAreQuoted() throws {
        for s in ["{pid}", "-9", "a b", "yes", "x: y", "'q'", "\"dq\"", "#hash", "ipv4@1.2.3.4:9999", "on"] {
            let file = AttachFile(
                name: s, vip: "10.0.0.1",
                balancers: [
                    BalancerAccess(
                        name: "lb1", haproxy: HAProxyAccess(stats: .unix("/s"), kill: CommandTemplate(["echo", s])))
                ])
            let (back, diags) = AttachFile.parse(file.yaml(), file: "q.yaml")
            #expect(diags.items.isEmpty, "\(s): \(diags.items)")
            #expect(back?.name == s && back?.balancers.first?.haproxy?.kill?.arguments == ["echo", s], "\(s)")
        }
    }
}
