import AttachConfig
import Foundation
import HadeckBase
import HadeckTestSupport
import RealCluster
import Testing

@testable import Lab

/// The texts `hadeck lab up` writes, checked without building a lab.
@Suite(.onItsOwnThread) struct LabFilesTests {
    let layout = LabLayout(id: "hdk")

    @Test func namesFollowTheID() {
        #expect(layout.namespaces == ["hdk-bridge", "hdk-lb1", "hdk-lb2", "hdk-webA", "hdk-webB", "hdk-client"])
        #expect(layout.statsSocket("lb1") == "/run/hadeck-lab/hdk/lb1/haproxy.sock")
        #expect(LabLayout(id: "hdkt-1-2").namespace("lb2") == "hdkt-1-2-lb2")
        for bad in ["", "lab", "hdk/x", "HDK", "hdk-", "hdk-this-id-is-far-too-long-for-a-lab"] {
            #expect(throws: LabError.self, "\(bad)") { try LabLayout.validated(id: bad).get() }
        }
    }

    @Test func haproxyConfigIsTheArticlesWithWatchersLines() {
        let text = layout.haproxyConfigText(LabLayout.host("lb1")!)
        for line in [
            "    node lb1",
            "    stats socket /run/hadeck-lab/hdk/lb1/haproxy.sock mode 600 level admin",
            "    log /run/hadeck-lab/hdk/lb1/haproxy-log.sock len 2048 format rfc3164 local0 info",
            "    option httplog", "    capture cookie SRV len 32", "    cookie SRV insert indirect nocache",
            "    option httpchk GET /login", "    bind :80",
            "    server webA 10.77.0.21:8081 cookie A check inter 2000 rise 2 fall 3",
            "    server webB 10.77.0.22:8888 cookie B check inter 2000 rise 2 fall 3",
        ] {
            #expect(text.contains(line + "\n"), "missing: \(line)")
        }
        for field in ["%b/%s", "%ST", "%CC", "%tsc", "%ac/%fc/%bc/%sc/%rc"] {
            #expect(LabLayout.logFormat.contains(field))
        }
    }

    /// Every setting of the article's files (Examples/article/) is in the lab's, but for what the lab
    /// must say otherwise: addresses, the stats socket's path, the listening port, the interface and
    /// unicast peers (the lab uses multicast on eth0), the track script (its own haproxy, not killall)
    /// and the password (8 bytes, as in the reference captures).
    @Test func labConfigsFollowTheArticlesFiles() throws {
        let article = LabEnvironment.repositoryRoot + "/Examples/article/"
        for host in LabLayout.balancers {
            let pairs = [
                ("haproxy-\(host.name).cfg", layout.haproxyConfigText(host)),
                ("keepalived-\(host.name).conf", layout.keepalivedConfigText(host)),
            ]
            for (name, lab) in pairs {
                let labLines = Set(lab.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
                let original = try String(contentsOfFile: article + name, encoding: .utf8)
                for raw in original.split(separator: "\n") {
                    let line = raw.prefix { $0 != "#" }.trimmingCharacters(in: .whitespaces)
                    let differs = [
                        "stats socket", "bind ", "server ", "interface ", "unicast", "127.", "}", "script ",
                        "auth_pass ",
                    ]
                    if line.isEmpty || line.hasPrefix("!") || differs.contains(where: { line.hasPrefix($0) }) {
                        continue
                    }
                    let present = labLines.contains(line)
                    #expect(present, "\(name): the lab's file lacks '\(line)'")
                }
            }
        }
    }

    @Test func keepalivedConfigIsTheArticlesOnEth0() {
        let lb1 = layout.keepalivedConfigText(LabLayout.host("lb1")!)
        let lb2 = layout.keepalivedConfigText(LabLayout.host("lb2")!)
        for line in [
            "state MASTER", "priority 150", "virtual_router_id 51", "advert_int 1", "auth_type PASS", "interval 2",
            "weight -60", "fall 2", "rise 1", "interface eth0", "10.77.0.10",
            "vrrp_notify_fifo /run/hadeck-lab/hdk/lb1/keepalived.fifo", "vrrp_notify_priority_changes true",
            "script \"/run/hadeck-lab/hdk/lb1/chk_haproxy\"",
        ] {
            #expect(lb1.contains(line), "lb1 misses: \(line)")
        }
        #expect(lb2.contains("state BACKUP") && lb2.contains("priority 100"))
        #expect(!lb1.contains("killall") || lb1.contains("# "), "the track script is not killall")
        let script = layout.checkScriptText(LabLayout.host("lb1")!)
        #expect(script.contains("/run/hadeck-lab/hdk/lb1/haproxy.pid") && script.contains("/proc/$pid/stat"))
    }

    /// The real programs accept the texts (when installed).
    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy")
                && FileManager.default.isExecutableFile(atPath: "/usr/sbin/keepalived"), "needs haproxy and keepalived")
    )
    func realProgramsAcceptTheConfigs() throws {
        let dir = NSTemporaryDirectory() + "hadeck-labfiles-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for host in LabLayout.balancers {
            let cfg = dir + "/\(host.name).cfg"
            try layout.haproxyConfigText(host).write(toFile: cfg, atomically: true, encoding: .utf8)
            let h = try ProgramRunner.run(["/usr/sbin/haproxy", "-c", "-f", cfg])
            #expect(h.succeeded && !h.stdout.contains("WARNING") && !h.stderr.contains("WARNING"), "\(h)")
            let conf = dir + "/\(host.name).conf"
            // The track script where the test may write it (keepalived checks that it exists).
            let script = dir + "/chk_haproxy-\(host.name)"
            try layout.checkScriptText(host).write(toFile: script, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
            try layout.keepalivedConfigText(host).replacingOccurrences(of: layout.checkScript(host.name), with: script)
                .write(toFile: conf, atomically: true, encoding: .utf8)
            let k = try ProgramRunner.run(["/usr/sbin/keepalived", "--config-test", "--use-file", conf])
            #expect(k.succeeded, "\(k)")
        }
    }

    @Test func missingPiecesAreOneLineEachWithWhatToDo() throws {
        let none = LabCapabilities(
            root: false, ip: nil, haproxy: nil, keepalived: "/usr/sbin/keepalived", nft: nil, setsid: "/usr/bin/setsid",
            namespaceProblem: "ip netns add failed: Operation not permitted")
        #expect(
            none.missing == [
                "not root: the lab creates network namespaces and links (run it as root, e.g. sudo)",
                "ip (iproute2) is missing: apt-get install iproute2",
                "/usr/sbin/haproxy missing: apt-get install haproxy keepalived (Debian's packages)",
                "nft is missing (partitions need it): apt-get install nftables",
                "network namespaces are not available here: ip netns add failed: Operation not permitted",
            ])
        #expect(throws: LabError.missing("hadeck lab: " + none.missing[0])) { try none.requireForLab() }
        var onlyNFT = none
        (onlyNFT.root, onlyNFT.ip, onlyNFT.haproxy, onlyNFT.namespaceProblem) = (true, "/usr/sbin/ip", "/h", nil)
        #expect(onlyNFT.missing.count == 1)
        try onlyNFT.requireForLab()  // nft is needed only to partition
    }

    @Test func attachFileParsesBackWithEveryAction() throws {
        let value = layout.attachFileValue(hadeck: "/usr/local/bin/hadeck")
        let (file, diags) = AttachFile.parse(value.yaml(), file: "attach.yaml")
        #expect(diags.items.isEmpty, "\(diags.items)")
        let f = try #require(file)
        #expect(f.vip == "10.77.0.10" && f.port == 80 && f.balancers.map(\.name) == ["lb1", "lb2"])
        let lb1 = try #require(f.balancer("lb1"))
        #expect(lb1.mac == "02:77:00:00:00:11")
        #expect(lb1.haproxy?.stats == .unix("/run/hadeck-lab/hdk/lb1/haproxy.sock"))
        #expect(lb1.keepalived?.kill?.arguments == ["/usr/local/bin/hadeck", "lab", "kill", "lb1/keepalived"])
        #expect(lb1.haproxy?.kill?.arguments == ["kill", "-9", "{pid}"])
        #expect(lb1.power?.off?.arguments == ["/usr/local/bin/hadeck", "lab", "poweroff", "lb1"])
        #expect(f.client?.neighbours?.arguments == ["ip", "-j", "-n", "hdk-client", "neigh", "show", "{vip}"])
        #expect(f.servers.map(\.name) == ["webA", "webB"])
        #expect(f.partition?.cut.arguments == ["/usr/local/bin/hadeck", "lab", "partition", "{a}", "{b}"])
        let test = LabLayout(id: "hdkt-9-1").attachFileValue(hadeck: "/h")
        #expect(test.balancers[0].power?.on?.arguments == ["/h", "lab", "poweron", "lb1", "--id", "hdkt-9-1"])
    }
}
