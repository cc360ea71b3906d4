"""Connectors: one folder per platform (client, streams, sandbox). See ``base`` for the contract."""
