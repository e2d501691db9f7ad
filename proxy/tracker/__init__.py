"""The side entry: the tracker asset Vernier injects and serves (and, later, event intake)."""
