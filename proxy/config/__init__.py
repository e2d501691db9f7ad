"""Typed configuration: the schema (``schema.py``), the strict YAML reader (``yaml_strict.py``) and
the loader that merges defaults, the config file, ``VERNIER_*`` environment and flags (``load.py``)."""
