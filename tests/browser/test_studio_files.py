"""The studio's files: a fixed list served from the package, nothing fetched from the network, one demo data file."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from switch.web import PAGES, demo_data, page
from terminal.demo.stories import BINDINGS, PEOPLE, STORIES, TILLS
from tests.support.switches import ROOT


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


def test_without_chromium_or_a_way_to_install_it_make_says_what_to_install(tmp_path: Path) -> None:
    """No chromium and no apt-get on PATH: make chromium fails with one line naming the Debian packages."""
    done = subprocess.run([shutil.which("make") or "make", "--no-print-directory", "-s", "chromium",
                           f"PATH={tmp_path}", f"CHROMIUM={tmp_path / 'chromium'}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stdout == (f"the browser tests need Debian's chromium at {tmp_path / 'chromium'} and "
                           "fonts-wqy-microhei: install them (apt-get install chromium fonts-wqy-microhei) "
                           "and run make test again\n")
