import ArgumentParser

/// The `hadeck` command and its subcommands.
public struct Hadeck: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "hadeck",
        abstract: "A whole high-availability web cluster in one terminal.",
        version: "0.1.0",
        subcommands: [CheckCommand.self, SimulateCommand.self, ProxyCommand.self]
    )

    public init() {}

    public func run() throws {
        print("hadeck: dashboard not built yet")
    }
}
