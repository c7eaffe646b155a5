"""Helpers shared by the benchmark scripts (not a public module)."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def git_commit() -> str:
    """Short HEAD commit, marked when ``src/`` has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, cwd=REPO
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"], capture_output=True, text=True, check=True, cwd=REPO
        ).stdout.strip()
        return head + ("+dirty src/ (uncommitted detector changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
