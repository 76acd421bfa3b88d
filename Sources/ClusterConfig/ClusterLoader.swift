import BalancerCore
import HadeckBase
import HadeckConfig
import VRRPCore

/// A cluster file with every configuration it names, parsed.
public struct LoadedCluster: Sendable {
    public struct Host: Sendable {
        public var definition: BalancerHostDefinition
        public var haproxy: HAProxyConfig
        public var keepalived: KeepalivedConfig
        /// The files as read (resolved against the cluster file's directory), for messages.
        public var haproxyFile = ""
        public var keepalivedFile = ""
        /// Where each keepalived instance setting was written.
        public var keepalivedSources = KeepalivedSources()

        /// The host's files in the form the drift check takes.
        public var files: BalancerConfigFiles {
            BalancerConfigFiles(
                name: definition.name, haproxyFile: haproxyFile, haproxy: haproxy, keepalivedFile: keepalivedFile,
                keepalived: keepalived, keepalivedSources: keepalivedSources, address: definition.address)
        }
    }

    public var file: ClusterFile
    public var hosts: [Host]
}

/// Reads a cluster file and the haproxy.cfg / keepalived.conf files it names.
public enum ClusterLoader {
    /// The name that selects the built-in cluster (`cluster article` in a scenario, `--cluster article`).
    public static let builtinName = "article"

    /// Loads a cluster through `read`, which maps a path to its text (throwing when it cannot).
    /// Relative config paths are resolved against the cluster file's directory. A balancer's
    /// keepalived.conf is read with the balancer's name as keepalived's config id (`@lb1 ...` lines).
    /// The diagnostics include ``drift(_:)``'s warnings between the balancers.
    public static func load(
        path: String, read: (String) throws -> String, haproxyEnvironment: [String: String] = [:]
    ) -> (LoadedCluster?, Diagnostics) {
        var diags = Diagnostics()
        let text: String
        do { text = try read(path) } catch {
            diags.error(path, 0, ConfigFiles.problem(reading: error))
            return (nil, diags)
        }
        let (parsed, fileDiags) = ClusterFile.parse(text, file: path)
        diags.append(contentsOf: fileDiags)
        guard let parsed else { return (nil, diags) }
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : ""
        func resolve(_ p: String) -> String { p.hasPrefix("/") || directory.isEmpty ? p : directory + "/" + p }
        var hosts: [LoadedCluster.Host] = []
        for def in parsed.balancers {
            let hp = resolve(def.haproxyFile)
            let kp = resolve(def.keepalivedFile)
            var haproxy: HAProxyConfig?
            var keepalived: KeepalivedParseResult?
            do {
                let r = HAProxyConfigParser.parse(
                    text: try read(hp), file: hp, options: HAProxyParseOptions(environment: haproxyEnvironment))
                diags.append(contentsOf: r.diagnostics)
                haproxy = r.config
            } catch { diags.error(path, def.line, "balancer '\(def.name)': cannot read \(hp): \(error)") }
            do {
                let r = KeepalivedConfigParser.parseWithSources(
                    text: try read(kp), file: kp, options: KeepalivedParseOptions(configID: def.name))
                diags.append(contentsOf: r.diagnostics)
                keepalived = r
            } catch { diags.error(path, def.line, "balancer '\(def.name)': cannot read \(kp): \(error)") }
            if let haproxy, let keepalived {
                if keepalived.config.instances.isEmpty {
                    diags.error(kp, 1, "no vrrp_instance: balancer '\(def.name)' needs one to take part in VRRP")
                }
                hosts.append(
                    LoadedCluster.Host(
                        definition: def, haproxy: haproxy, keepalived: keepalived.config, haproxyFile: hp,
                        keepalivedFile: kp, keepalivedSources: keepalived.sources))
            }
        }
        if diags.hasErrors { return (nil, diags) }
        let cluster = LoadedCluster(file: parsed, hosts: hosts)
        diags.append(contentsOf: drift(cluster))
        return (cluster, diags)
    }

    /// The drift check between every two balancers of a loaded cluster (all warnings): cookies,
    /// servers, stick tables, and the VRRP settings that must agree for a failover to work.
    public static func drift(_ cluster: LoadedCluster) -> Diagnostics {
        var d = Diagnostics()
        let hosts = cluster.hosts
        for i in hosts.indices {
            for j in hosts.indices where j > i {
                d.append(contentsOf: ConfigDrift.check(hosts[i].files, hosts[j].files))
            }
        }
        return d
    }

    /// The article's cluster, from the files compiled into hadeck.
    public static func article() -> LoadedCluster {
        let (loaded, diags) = load(path: "article/cluster.yaml") { p in
            let name = String(p.split(separator: "/").last ?? "")
            guard let text = ArticleClusterFiles.files[name] else {
                throw ConfigFileError(path: p, reason: "not built in")
            }
            return text
        }
        guard let loaded else { fatalError("the built-in article cluster does not parse: \(diags.items)") }
        return loaded
    }
}
