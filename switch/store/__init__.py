"""Durable storage behind a small port; SQLite is the first backend."""

from switch.store.base import Commit, ReplyRow, Store, StoreError, StoreOpenError
from switch.store.sqlite import SqliteStore

__all__ = ["Commit", "ReplyRow", "SqliteStore", "Store", "StoreError", "StoreOpenError"]
