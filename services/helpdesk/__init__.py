"""The helpdesk service. Problem tickets in the program's four priority categories."""
