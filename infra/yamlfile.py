"""YAML as the platform's files are read: safe, duplicate keys refused (Pulumi's own loader refuses
them; PyYAML would keep the last silently), and errors located by line and column."""

from __future__ import annotations

from typing import Any

import yaml


class YamlFileError(ValueError):
    """Not valid YAML, or a key given twice: the message names the line and column."""


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                first = seen[key]
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} is given twice (first at line {first.line + 1}); the second would silently win",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


def load(text: str) -> Any:
    """Parse ``text``; raises YamlFileError("at line L, column C: problem")."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f"at line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise YamlFileError(f"{at}{getattr(err, 'problem', None) or err}") from None
