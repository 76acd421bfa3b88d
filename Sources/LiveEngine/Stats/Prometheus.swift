import HadeckBase

/// One metric family of the Prometheus text exposition format (0.0.4): its name, help, type and
/// samples. Whatever a balancer's `/metrics` shows is a list of these; `PrometheusText` writes them.
public struct MetricFamily: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        case counter, gauge
    }

    public var name: String
    public var kind: Kind
    public var help: String
    public var samples: [MetricSample]

    public init(_ name: String, _ kind: Kind, _ help: String, samples: [MetricSample] = []) {
        self.name = name
        self.kind = kind
        self.help = help
        self.samples = samples
    }

    /// Adds a sample with these labels, in this order.
    public mutating func add(_ labels: KeyValuePairs<String, String>, _ value: Double) {
        samples.append(MetricSample(labels: labels.map { MetricLabel(name: $0.key, value: $0.value) }, value: value))
    }

    public mutating func add(_ labels: KeyValuePairs<String, String>, _ value: Int) { add(labels, Double(value)) }
}

/// One sample: its labels (in the order written) and its value.
public struct MetricSample: Hashable, Sendable {
    public var labels: [MetricLabel]
    public var value: Double
}

public struct MetricLabel: Hashable, Sendable {
    public var name: String
    public var value: String
}

/// The one writer of Prometheus text: `# HELP` and `# TYPE` per family, then its samples.
public enum PrometheusText {
    public static func render(_ families: [MetricFamily]) -> String {
        var out = ""
        for f in families {
            out += "# HELP " + f.name + " "
            TextEscaping.prometheusHelp.append(f.help, to: &out)
            out += "\n# TYPE " + f.name + " " + f.kind.rawValue + "\n"
            for s in f.samples {
                out += f.name
                if !s.labels.isEmpty {
                    out += "{"
                    for (i, label) in s.labels.enumerated() {
                        if i > 0 { out += "," }
                        out += label.name + "=\""
                        TextEscaping.prometheusLabel.append(label.value, to: &out)
                        out += "\""
                    }
                    out += "}"
                }
                out += " " + format(s.value) + "\n"
            }
        }
        return out
    }

    /// Integers without a fraction, others as Swift prints doubles (valid Go float syntax).
    static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}
