"""The query service. Read models, patient search, Patient History Report, statistics."""
