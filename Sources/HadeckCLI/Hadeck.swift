import ArgumentParser

/// The `hadeck` command. Each subcommand owns its options; without one, `dashboard` runs
/// (`hadeck` alone opens the live dashboard, `hadeck --simulate` the simulated one).
public struct Hadeck: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "hadeck",
        abstract: "A whole high-availability web cluster in one terminal.",
        discussion: """
            Without a subcommand hadeck runs the article's cluster for real on loopback (two balancers with \
            haproxy + keepalived in front of webA and webB, the VIP 127.0.0.99:8080 that curl or a browser \
            can use) and opens the dashboard on it with traffic running: that is 'hadeck dashboard', whose \
            options (--simulate, --script, --cluster, --vip, --theme, --headless, ...) 'hadeck --help dashboard' lists. \
            Press ? in the dashboard for every key.
            """,
        version: "0.2.0",
        subcommands: [
            DashboardCommand.self, CheckCommand.self, SimulateCommand.self, ProxyCommand.self, BenchCommand.self,
            LabCommand.self, NodeCommand.self, AttachCommand.self, ConformCommand.self, ReplayCommand.self,
            DoctorCommand.self,
            AppCommand.self,
        ],
        defaultSubcommand: DashboardCommand.self
    )

    public init() {}
}
