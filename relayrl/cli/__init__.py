"""Command line: ``relayrl train | enjoy | plot`` (entry point ``relayrl.cli.main:console``); each command
is a module here, imported only when it runs."""
