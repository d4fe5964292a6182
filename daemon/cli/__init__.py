"""The ``threadline`` command: one module per command group."""
