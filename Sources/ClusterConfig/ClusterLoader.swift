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
    }

    public var file: ClusterFile
    public var hosts: [Host]
}

/// Reads a cluster file and the haproxy.cfg / keepalived.conf files it names.
public enum ClusterLoader {
    /// The name that selects the built-in cluster (`cluster article` in a scenario, `--cluster article`).
    public static let builtinName = "article"

    /// Loads a cluster through `read`, which maps a path to its text (throwing when it cannot).
    /// Relative config paths are resolved against the cluster file's directory.
    public static func load(
        path: String, read: (String) throws -> String
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
            var keepalived: KeepalivedConfig?
            do {
                let r = HAProxyConfigParser.parse(text: try read(hp), file: hp)
                diags.append(contentsOf: r.diagnostics)
                haproxy = r.config
            } catch { diags.error(path, def.line, "balancer '\(def.name)': cannot read \(hp): \(error)") }
            do {
                let r = KeepalivedConfigParser.parse(text: try read(kp), file: kp)
                diags.append(contentsOf: r.diagnostics)
                keepalived = r.config
            } catch { diags.error(path, def.line, "balancer '\(def.name)': cannot read \(kp): \(error)") }
            if let haproxy, let keepalived {
                if keepalived.instances.isEmpty {
                    diags.error(kp, 1, "no vrrp_instance: balancer '\(def.name)' needs one to take part in VRRP")
                }
                hosts.append(.init(definition: def, haproxy: haproxy, keepalived: keepalived))
            }
        }
        if diags.hasErrors { return (nil, diags) }
        return (LoadedCluster(file: parsed, hosts: hosts), diags)
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
