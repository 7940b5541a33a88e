"""The checkout studio: a page for demonstrating family pooling, shipped as plain files the HTTP door serves.

The page is a client like any till: it posts the door's transactions and listens to its events stream.
Only the files named here are served, read from the package once and kept; any other path stays a 404.
"""

from __future__ import annotations

import functools
from importlib import resources

__all__ = ["PAGES", "page"]

# URL path -> (file in this package, content type). A fixed list: nothing outside it can be asked for.
PAGES = {
    "/": ("index.html", "text/html"),
    "/studio/studio.css": ("studio.css", "text/css"),
    "/studio/api.js": ("api.js", "text/javascript"),
    "/studio/dom.js": ("dom.js", "text/javascript"),
    "/studio/studio.js": ("studio.js", "text/javascript"),
    "/studio/tills.js": ("tills.js", "text/javascript"),
    "/studio/phone.js": ("phone.js", "text/javascript"),
    "/studio/stories.js": ("stories.js", "text/javascript"),
    "/studio/demo.json": ("demo.json", "application/json"),
}


@functools.cache
def page(path: str) -> tuple[bytes, str] | None:
    """The body and content type of one of the studio's files, or None for a path that is not one."""
    named = PAGES.get(path)
    if named is None:
        return None
    return resources.files(__name__).joinpath(named[0]).read_bytes(), named[1]


def demo_data() -> bytes:
    """The demo's families, tills and stories (demo.json), which the terminal demo reads as well."""
    return resources.files(__name__).joinpath("demo.json").read_bytes()
