import ClusterConfig
import ClusterCore
import HadeckBase
import HadeckConfig

/// Reads a scenario file and builds the cluster it names.
public enum ScenarioLoader {
    /// The scenario and a fresh cluster for it (traffic off until the scenario turns it on).
    /// `cluster` (a cluster file path) overrides the scenario's own `cluster` line.
    public static func load(path: String, cluster override: String? = nil) -> Result<(Scenario, Cluster), Diagnostics> {
        loadSpec(path: path, cluster: override).map { ($0.0, Cluster(spec: $0.1)) }
    }

    /// The scenario and the spec of the cluster it names (traffic off until the scenario turns it on).
    public static func loadSpec(path: String, cluster override: String? = nil) -> Result<
        (Scenario, ClusterSpec), Diagnostics
    > {
        var diags = Diagnostics()
        let text: String
        switch readWhole(path) {
        case .success(let t): text = t
        case .failure(let d): return .failure(d)
        }
        let (parsed, scenarioDiags) = ScenarioParser.parse(text, file: path)
        diags.append(contentsOf: scenarioDiags)
        guard let scenario = parsed else { return .failure(diags) }
        var spec: ClusterSpec
        let clusterResult = override.map { loadCluster($0) } ?? loadCluster(scenario.cluster, relativeTo: path)
        switch clusterResult {
        case .success(let s): spec = s
        case .failure(let d):
            diags.append(contentsOf: d)
            return .failure(diags)
        }
        spec.trafficOn = false
        return .success((scenario, spec))
    }

    /// `nil` or `article`: the built-in cluster; otherwise a cluster file path (relative to `base`'s directory).
    public static func loadCluster(_ reference: String?, relativeTo base: String? = nil) -> Result<
        ClusterSpec, Diagnostics
    > {
        guard let reference, reference != ClusterLoader.builtinName else { return .success(ClusterSpec.article) }
        var path = reference
        if let base, !reference.hasPrefix("/"), let slash = base.lastIndex(of: "/") {
            path = String(base[..<slash]) + "/" + reference
        }
        let (loaded, diags) = ClusterLoader.load(path: path, read: ConfigFiles.read)
        guard let loaded else { return .failure(diags) }
        return .success(ClusterSpec(loaded))
    }

    /// A file's text, or `FILE: error: no such file` (and the like) when it cannot be read.
    static func readWhole(_ path: String) -> Result<String, Diagnostics> {
        do { return .success(try ConfigFiles.read(path)) } catch {
            var diags = Diagnostics()
            diags.error(path, 0, ConfigFiles.problem(reading: error))
            return .failure(diags)
        }
    }
}
