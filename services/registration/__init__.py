"""The registration service.

Registration applications, email verification, documents, terms, approval and renewal.
"""
