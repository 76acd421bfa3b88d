import ClusterConfig
import ClusterCore
import Dashboard
import HadeckConfig

// The file parsers, fed bytes as hadeck reads them from disk (UTF-8, else Latin-1; themes refuse
// what is not UTF-8). A parser may refuse anything, but must return: no trap, no overflow.

func fuzzHAProxyConfig(_ data: UnsafeRawBufferPointer) {
    _ = HAProxyConfigParser.parse(text: ConfigFiles.decode(Array(data)), file: "fuzz.cfg")
}

func fuzzKeepalivedConfig(_ data: UnsafeRawBufferPointer) {
    _ = KeepalivedConfigParser.parse(text: ConfigFiles.decode(Array(data)), file: "fuzz.conf")
}

func fuzzClusterFile(_ data: UnsafeRawBufferPointer) {
    _ = ClusterFile.parse(ConfigFiles.decode(Array(data)), file: "fuzz.yaml")
}

func fuzzScenario(_ data: UnsafeRawBufferPointer) {
    let (scenario, diagnostics) = ScenarioParser.parse(ConfigFiles.decode(Array(data)), file: "fuzz.scenario")
    // What running a scenario asks of it first: where it ends.
    if let scenario, !diagnostics.hasErrors { _ = scenario.endTime }
}

func fuzzTheme(_ data: UnsafeRawBufferPointer) {
    guard let text = String(validating: data, as: UTF8.self) else { return }
    _ = try? Theme.parse(text, name: "fuzz", file: "fuzz.theme")
}
