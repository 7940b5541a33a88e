"""Files people write for the switch (policies, fault rules): YAML, JSON (which is YAML) or TOML."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

__all__ = ["read_data_file"]


def read_data_file(path: Path, error: type[ValueError]) -> object:
    """The parsed document; any problem is raised as ``error`` with the file named first."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: {exc.strerror}") from exc
    try:
        return tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise error(f"{path}: {exc}") from exc
