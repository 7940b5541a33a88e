"""The studio's files: a fixed list served from the package, nothing fetched from the network, one demo data file."""

from __future__ import annotations

import json
import re

from switch.web import PAGES, demo_data, page
from terminal.demo.stories import BINDINGS, PEOPLE, STORIES, TILLS


def test_only_the_listed_files_are_pages() -> None:
    """Each listed path has its file and type; a path beside them, above them or a directory is no page."""
    for path, (_, kind) in PAGES.items():
        found = page(path)
        assert found is not None and found[0] and found[1] == kind
    for other in ("/studio/", "/studio", "/index.html", "/studio/../__init__.py", "/studio/__init__.py", "/x.js"):
        assert page(other) is None


def test_the_page_reaches_for_nothing_outside_the_switch() -> None:
    """No http(s):// or protocol-relative URL in any file, and every module import is a served /studio/ file."""
    texts = {path: body.decode() for path in PAGES if (found := page(path)) is not None
             for body in [found[0]] if path != "/studio/demo.json"}
    for path, text in texts.items():
        assert not re.search(r"https?://|[\"'(]//", text), path
        for imported in re.findall(r'from "([^"]+)"', text) + re.findall(r'src="([^"]+)"', text):
            assert imported in PAGES, (path, imported)


def test_the_terminal_demo_and_the_page_share_one_description_of_the_families() -> None:
    """demo.json's people, bindings and tills are the terminal demo's; it tells as many stories, each with captions."""
    demo = json.loads(demo_data())
    assert (demo["people"], demo["bindings"]) == (PEOPLE, BINDINGS)
    assert {t["terminal_id"]: (t["fixmedins_code"], t["kind"], t["name"]) for t in demo["tills"]} == TILLS
    assert len(demo["stories"]) == len(STORIES) == 5
    for story in demo["stories"]:
        assert all(step["say"]["zh"] and step["say"]["en"] for step in story["steps"])
