"""YAML for Warga's own files (settings, reply texts, knowledge), read with libyaml's parser.

PyYAML's pure-Python parser took about 30 ms for config.yml, on every process start and for
every settings object a test builds; libyaml's takes a tenth of that. PyYAML wheels ship it,
but a build without it still works, with the slower parser.
"""

from __future__ import annotations

from typing import Any

import yaml

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """Like :func:`yaml.safe_load` (plain data only; :class:`yaml.YAMLError` on bad input)."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader, C or Python
