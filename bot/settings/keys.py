"""The declared keys as a flat list: the loader, the README's table and the tests walk this.

Dynamic mappings (``complaints.categories.<name>``) appear once with a placeholder;
:func:`concrete_keys` repeats their keys for the names a loaded file actually has.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from annotated_types import Ge, Le
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from bot.settings.schema import ConfigFile, Section, env_name

#: Stands for the name of an entry of a dynamic mapping in :func:`declared_keys`.
NAME = "<name>"


@dataclass(frozen=True, slots=True)
class Key:
    """One declared key of config.yml.

    Attributes:
        path: The key's path, e.g. ``("nlu", "threshold")``.
        info: Its declaration (type, default, bounds, help).
        mapping: A mapping whose entries the file chooses (``complaints.transitions``); it has no
            environment variable (a mapping is not one line of text).
    """

    path: tuple[str, ...]
    info: FieldInfo
    mapping: bool = False

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    @property
    def env(self) -> str | None:
        return None if self.mapping else env_name(self.path)

    @property
    def annotation(self) -> Any:
        return self.info.annotation

    @property
    def help(self) -> str:
        return self.info.description or ""

    @property
    def required(self) -> bool:
        return self.info.default is PydanticUndefined

    def extra(self, name: str) -> Any:
        extra = self.info.json_schema_extra
        return extra.get(name) if isinstance(extra, dict) else None

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        ge = next((m.ge for m in self.info.metadata if isinstance(m, Ge)), None)
        le = next((m.le for m in self.info.metadata if isinstance(m, Le)), None)
        return ge, le  # type: ignore[return-value]


def section_of(annotation: Any) -> type[Section] | None:
    """The section model ``annotation`` is, if it is one."""
    return annotation if isinstance(annotation, type) and issubclass(annotation, Section) else None


def entry_section(annotation: Any) -> type[Section] | None:
    """For ``dict[str, SomeSection]``, the section of each entry."""
    if get_origin(annotation) is dict:
        return section_of(get_args(annotation)[1])
    return None


def scalar_type(annotation: Any) -> Any:
    """``annotation`` without ``| None``."""
    if get_origin(annotation) in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def choices(annotation: Any) -> tuple[str, ...] | None:
    """The allowed values of a ``Literal`` (or of a list of one)."""
    annotation = scalar_type(annotation)
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    return get_args(annotation) if get_origin(annotation) is Literal else None


def declared_keys(model: type[Section] = ConfigFile, prefix: tuple[str, ...] = ()) -> Iterator[Key]:
    """Every key ``model`` declares, depth first in declaration order."""
    for name, info in model.model_fields.items():
        path = prefix + (name,)
        section = section_of(info.annotation)
        if section is not None:
            yield from declared_keys(section, path)
            continue
        entry = entry_section(info.annotation)
        if entry is not None:
            yield Key(path, info, mapping=True)
            yield from declared_keys(entry, path + (NAME,))
            continue
        yield Key(path, info, mapping=get_origin(info.annotation) is dict)


def concrete_keys(data: Mapping[str, Any]) -> Iterator[Key]:
    """The declared keys with each ``<name>`` replaced by the entries ``data`` has."""
    for key in declared_keys():
        if NAME not in key.path:
            yield key
            continue
        at = key.path.index(NAME)
        node: Any = data
        for part in key.path[:at]:
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, Mapping):
            for entry in node:
                yield Key(key.path[:at] + (str(entry),) + key.path[at + 1:], key.info, key.mapping)


def known_paths(data: Mapping[str, Any]) -> list[str]:
    """Every dotted key and section ``data`` may hold (for "did you mean")."""
    seen: dict[str, None] = {}
    for key in concrete_keys(data):
        for n in range(1, len(key.path) + 1):
            seen[".".join(key.path[:n])] = None
    return list(seen)
