"""Allow ``python -m keyscan``."""

from keyscan.cli.entry import main

main()
