"""`python -m bingbridge` runs the CLI."""

from bingbridge.cli import main

main()
