"""Which data extensions get a stream: the user's key list, name/key patterns and folder-path patterns.

Pure functions over what discovery lists; `data_extensions.py` applies them. Patterns are globs compared with the
whole name, key or folder path, case-insensitively: `*` stands for any run of characters (`/` included), `?` for
one character, every other character for itself (so `[`, `]` in SFMC names need no escaping).

A data extension is offered when all the configured conditions hold:
- `data_extensions` (external keys): its key is one of them;
- `data_extensions_include`: its name or its key matches one pattern; `data_extensions_exclude`: neither its
  name nor its key matches any;
- `data_extension_folders_include`: its folder path or the path of a folder above it matches one pattern;
  `data_extension_folders_exclude`: none of those paths matches any.
A folder path is the folder names from the top folder down, joined by `/`: `Data Extensions/Sales/2024`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class DataExtensionSelection:
    keys: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    folders_include: tuple[str, ...] = ()
    folders_exclude: tuple[str, ...] = ()

    @property
    def needs_folders(self) -> bool:
        return bool(self.folders_include or self.folders_exclude)


@cache
def _glob(pattern: str) -> re.Pattern[str]:
    """The regular expression of a glob, matched in time linear in the value for a given pattern.

    Compiling each `*` to `.*` would let the stars backtrack over one another: `*a*a*a...*b` against a long run
    of `a` takes time polynomial in the length with the number of stars as exponent (minutes for 13 stars and 120
    characters). Instead the text between two stars is found at its first occurrence and kept (an atomic group):
    its segments have a fixed length, so the first occurrence is always as good as any later one (the same
    reasoning as CPython's fnmatch)."""
    segments = ["".join("." if char == "?" else re.escape(char) for char in part) for part in pattern.split("*")]
    if len(segments) == 1:
        regex = segments[0]
    else:
        first, *middle, last = segments
        regex = first + "".join(f"(?>.*?{segment})" for segment in middle if segment) + ".*" + last
    return re.compile(regex, re.IGNORECASE | re.DOTALL)


def matches_any(patterns: Iterable[str], *values: str) -> bool:
    """Whether one of the glob `patterns` matches one of `values` whole (case-insensitively)."""
    return any(_glob(pattern).fullmatch(value) for pattern in patterns for value in values)


def folder_paths(folders: Iterable[Mapping[str, Any]]) -> dict[int, list[str]]:
    """For each DataFolder ID (results with `ID`, `Name`, `ParentFolder.ID`), the paths of the folder and of every
    folder above it, nearest first: {12: ["Data Extensions/Sales", "Data Extensions"]}. A parent missing from the
    listing, or a cycle, ends the chain."""
    by_id: dict[int, tuple[str, int | None]] = {}
    for folder in folders:
        folder_id = _int(folder.get("ID"))
        parent = folder.get("ParentFolder")
        if folder_id is not None:
            parent_id = _int(parent.get("ID")) if isinstance(parent, Mapping) else None
            by_id[folder_id] = (str(folder.get("Name") or ""), parent_id)
    paths: dict[int, list[str]] = {}
    for folder_id in by_id:
        names: list[str] = []
        seen: set[int] = set()
        current: int | None = folder_id
        while current is not None and current in by_id and current not in seen:
            seen.add(current)
            name, current = by_id[current]
            names.append(name)
        names.reverse()
        paths[folder_id] = ["/".join(names[:depth]) for depth in range(len(names), 0, -1)]
    return paths


def is_selected(selection: DataExtensionSelection, key: str, name: str, folder_path_chain: Sequence[str] = ()) -> bool:
    """Whether the data extension (`key`, `name`, in the folder whose path chain is given) gets a stream."""
    if selection.keys and key.casefold() not in {wanted.casefold() for wanted in selection.keys}:
        return False
    if selection.include and not matches_any(selection.include, name, key):
        return False
    if selection.exclude and matches_any(selection.exclude, name, key):
        return False
    if selection.folders_include and not matches_any(selection.folders_include, *folder_path_chain):
        return False
    return not (selection.folders_exclude and matches_any(selection.folders_exclude, *folder_path_chain))


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
