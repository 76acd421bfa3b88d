import HadeckCLI

Hadeck.main()
