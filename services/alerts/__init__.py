"""The alerts service.

Clinical alert rules (MME, multiple providers, overlaps), thresholds and notifications.
"""
