"""YAML as the platform's files are read: safe, duplicate keys refused (Pulumi's own loader refuses
them; PyYAML would keep the last silently), and errors located by line and column."""

from __future__ import annotations

import re
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


def _no_leading_zero(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """YAML 1.1 (PyYAML) reads 012345678901 as an octal number and YAML 1.2 (Pulumi) as 12345678901:
    either way not what was written, as account ids are. Refuse it, with the line."""
    text = node.value.replace("_", "")
    if re.fullmatch(r"[-+]?0[0-9]+", text):
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"{node.value} has a leading zero, which YAML drops or reads as octal: quote it ('{node.value}')",
            node.start_mark,
        )
    return yaml.SafeLoader.construct_yaml_int(loader, node)


def _plain_digits(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    # PyYAML keeps an unquoted 012345678901 as text (not octal: it has 8 and 9); Pulumi's YAML 1.2
    # makes it the number 12345678901. Refused like the octal case, so both readers agree.
    if node.style is None and re.fullmatch(r"[-+]?0[0-9]+", node.value):
        _no_leading_zero(loader, node)
    return yaml.SafeLoader.construct_yaml_str(loader, node)


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", _no_leading_zero)
_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:str", _plain_digits)


def load(text: str) -> Any:
    """Parse ``text``; raises YamlFileError("at line L, column C: problem")."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f"at line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise YamlFileError(f"{at}{getattr(err, 'problem', None) or err}") from None
