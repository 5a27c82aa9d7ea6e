"""The audit service.

The hash-chained audit store of every event, verification and investigator replay.
"""
