"""The `newswatch` command line: one module per command group; main.py wires them into one app."""
