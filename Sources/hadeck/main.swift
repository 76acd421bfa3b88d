import ArgumentParser
import HadeckCLI

Hadeck.main()
