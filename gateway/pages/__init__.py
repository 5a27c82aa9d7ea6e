"""HTML pages, one module per area; each module is a mixin of the gateway service."""
