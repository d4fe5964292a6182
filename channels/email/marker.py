"""Markers shared by the mail we send and the parser that reads the answers to it."""

from __future__ import annotations

REPLY_MARKER = "##- Please type your reply above this line -##"
"""Top of every mail we send: the parser keeps only what was written above it."""
LOOP_HEADER = "X-Threadline-Loop"
"""On every mail we send, so one of ours that comes back is recognised and dropped."""
