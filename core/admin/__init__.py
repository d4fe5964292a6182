"""What an operator does by hand: agents, departments, clients, and reading tickets.

Each function takes the session it works in and leaves committing to the caller, so the CLI (or
a test) decides where the transaction ends.
"""
