"""The traffic journal: every message heard, what was answered, and a hint when nothing could be."""
