"""Connectors: one folder per platform (client, streams, README) and the registry that lists
them. See ``base`` for the contract; the fake servers live in ``revops.sandbox``."""
