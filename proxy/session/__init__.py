"""First-party identity: signed session and visitor cookies (``cookie``) and their keys (``keys``).

Pure and synchronous; the ``session`` stage reads the cookies and the ``encode`` stage sets them.
"""
