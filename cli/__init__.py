"""The commands of `launch.py`, one module per group (cli/design.py, cli/work.py); launch.py keeps the
argument parser and the one place errors become a line and status 2."""
