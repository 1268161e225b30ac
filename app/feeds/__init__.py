"""Feed polling: follow RSS, Atom and JSON feeds and ingest their entries through the same pipeline as a POST.

- ``parse``: a document's bytes in, cleaned entries out (pure);
- ``fetch``: the HTTP edge: conditional GET, size and time caps, redirects, every address checked;
- ``policy``: what a fetch's outcome does to a feed (next poll, backoff, validators, URL, disabling; pure);
- ``poller``: the schedule and lease loop in a background thread, ``poll_once(now)`` for one pass.

See docs/feeds.md.
"""
