"""The engine: one process that owns the lab world and serves the JSON API on a Unix socket.

Like dockerd: clients (CLI, TUI, notebook) talk HTTP to it and never touch the kernel.
"""
