"""Channel-agnostic domain of threadline: schema, identity, threading, ticket rules.

Nothing here imports ``channels`` or ``daemon``: the rules must read the same whichever channel
a message came from and whichever process runs them.
"""
