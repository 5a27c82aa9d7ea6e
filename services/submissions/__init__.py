"""The submissions service.

ASAP dispensation intake, validation and error reports, drug reference, patient index.
"""
