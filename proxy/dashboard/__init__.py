"""The dashboard on the admin listener (``/__vernier/admin/``, issue #13 item 4): sign-in with the
admin token (:mod:`.auth`), the built chart assets (:mod:`.assets`), the pages (:mod:`.handler`;
their HTML is the pure :mod:`proxy.results.pages`)."""
