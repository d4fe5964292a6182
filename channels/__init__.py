"""Channel adapters: each turns its wire format into core's normalized message and back."""
