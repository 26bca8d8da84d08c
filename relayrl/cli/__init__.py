"""Command line: ``relayrl train | enjoy`` (entry point ``relayrl.cli.main:main``)."""
