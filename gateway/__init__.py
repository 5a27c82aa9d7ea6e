"""The gateway: HTML pages and the JSON API over the services."""
