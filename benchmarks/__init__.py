"""``make bench``: the platform's speed, measured against a peer in the same run."""
