"""Change values in a YAML file's text and leave every other byte as it was.

`mlplatform promote` writes stack files that people maintain: their comments, quoting, flow or block
style, order and indentation are theirs. ``edit(text, new)`` is given the document's new value and
rewrites only the spans of the text whose values differ, found by PyYAML's node positions:

- a changed scalar is written in its own quoting (plain, 'single' or "double"), where that reads back;
- a flow collection stays flow and a block collection stays block: entries and items that did not
  change keep their text, removed ones are cut out (a block entry with its lines), new ones are
  added after the last (a new block item in its siblings' style);
- a value whose kind changes, or that is new to the file, is written in the stack files' style:
  mappings as blocks, lists of scalars inline, the items of a list of mappings one per line, inline.

The result is read back and must equal ``new``; otherwise YamlEditError, and nothing is guessed.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from infra import yamlfile

_WIDTH = 1 << 30  # never fold a line


class YamlEditError(ValueError):
    """The text could not be edited to the new value without touching what it was not asked to."""


def edit(text: str, new: Any) -> str:
    """``text`` with its document's value changed to ``new``; the rest of the text byte for byte."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        raise YamlEditError(f"not valid YAML: {err}") from None
    if root is None:
        raise YamlEditError("the file has no document to edit")
    editor = _Editor(text, _step(root))
    editor.node(root, new, indent=0, flow=False)
    out = editor.apply()
    try:
        result = yamlfile.load(out)
    except yamlfile.YamlFileError as err:  # pragma: no cover - a bug of this module, said as such
        raise YamlEditError(f"the edited text would not be valid YAML ({err})") from None
    if _canon(result) != _canon(new):  # pragma: no cover - likewise
        raise YamlEditError("the edited text would not read back as intended")
    return out


def _canon(value: Any) -> str:
    """A value's identity for comparison: types included (1, 1.0 and true differ), key order not."""
    return json.dumps(value, sort_keys=True, default=repr)


def _step(root: Node) -> int:
    """The file's indentation step: how far the first nested block mapping sits from its key."""
    todo = [root]
    while todo:
        node = todo.pop(0)
        if isinstance(node, MappingNode) and not node.flow_style:
            for key, value in node.value:
                if isinstance(value, MappingNode) and not value.flow_style:
                    step = value.start_mark.column - key.start_mark.column
                    if step > 0:
                        return step
                todo.append(value)
    return 2


def _flow(value: Any, style: str | None = None) -> str:
    """A value in flow style, such as {churn: 3} or [a, b] (a string in ``style`` when it can be)."""
    if isinstance(value, dict | list):
        return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=_WIDTH, allow_unicode=True).strip()
    return _scalar(value, style, flow=True)


# What YAML 1.2's core schema (Pulumi's reader) takes for a number, a boolean or null; PyYAML's YAML 1.1
# would write some of these unquoted as text (1e5, 0o17), so they are quoted for both readers to agree.
_NOT_TEXT_IN_YAML_12 = re.compile(
    r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|true|True|TRUE|false|False|FALSE|null|Null|NULL|~"
)


def _scalar(value: Any, style: str | None = None, *, flow: bool) -> str:
    """A scalar in the given quoting when it reads back as the value, else as PyYAML writes it (quoted
    when plain text would read as something else), for a flow collection or a block."""
    if isinstance(value, str) and style in ("'", '"') and "\n" not in value:
        quoted = "'" + value.replace("'", "''") + "'" if style == "'" else json.dumps(value, ensure_ascii=False)
        if yaml.safe_load(f"[{quoted}]") == [value]:
            return quoted
    if flow:
        text = yaml.safe_dump([value], default_flow_style=True, width=_WIDTH, allow_unicode=True).strip()[1:-1]
    else:
        text = yaml.safe_dump(value, width=_WIDTH, allow_unicode=True).removesuffix("\n...\n").strip()
    if isinstance(value, str) and _NOT_TEXT_IN_YAML_12.fullmatch(text):
        return json.dumps(value, ensure_ascii=False)
    return text


def _style(nodes: list[Node]) -> str | None:
    """The quoting the scalar strings among ``nodes`` share, for a new one beside them."""
    styles = {n.style for n in nodes if isinstance(n, ScalarNode) and n.tag == "tag:yaml.org,2002:str"}
    return styles.pop() if len(styles) == 1 else None


class _Editor:
    def __init__(self, text: str, step: int):
        self.text = text
        self.step = step
        self.newline = "\r\n" if "\r\n" in text else "\n"  # new lines end as the file's do
        self.edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in the original text
        self.keys: dict[int, Node] = {}  # id of a block mapping's value -> its key
        self._loader = yaml.SafeLoader("")

    # --- positions ------------------------------------------------------------------------------------

    def value(self, node: Node) -> Any:
        return self._loader.construct_document(node)

    def end(self, node: Node) -> int:
        """Where a node's content ends (a block collection's end mark is past the comments after it)."""
        if isinstance(node, ScalarNode):
            start = node.start_mark.index
            return start + len(self.text[start : node.end_mark.index].rstrip())
        if node.flow_style or not node.value:
            return node.end_mark.index
        last = node.value[-1]
        return self.end(last[1] if isinstance(node, MappingNode) else last)

    def line_start(self, index: int) -> int:
        return self.text.rfind("\n", 0, index) + 1

    def line_end(self, index: int) -> int:
        """Just after the newline that ends the line of ``index`` (the text's end on its last line)."""
        found = self.text.find("\n", index)
        return len(self.text) if found == -1 else found + 1

    def starts_line(self, index: int) -> bool:
        """Only indentation (or a block sequence's dashes) before ``index`` on its line."""
        return not self.text[self.line_start(index) : index].strip(" -")

    def only_indented(self, index: int) -> bool:
        """Only indentation before ``index`` on its line."""
        return not self.text[self.line_start(index) : index].strip(" ")

    def dash(self, item: Node) -> int | None:
        """The '-' of a block sequence item, when it is the first thing on its line."""
        i = item.start_mark.index - 1
        while i >= 0 and self.text[i] in " \r\n":
            i -= 1
        if i < 0 or self.text[i] != "-" or not self.only_indented(i):
            return None
        return i

    # --- edits ----------------------------------------------------------------------------------------

    def lines(self, lines: list[str]) -> str:
        return "".join(f"{line}{self.newline}" for line in lines)

    def insert_lines(self, index: int, lines: list[str]) -> None:
        block = self.lines(lines)
        if index == len(self.text) and self.text and not self.text.endswith("\n"):
            block = self.newline + block.removesuffix(self.newline)
        self.edits.append((index, index, block))

    def apply(self) -> str:
        out, at = [], 0
        for start, end, replacement in sorted(self.edits, key=lambda e: (e[0], e[1])):  # stable: nested first
            if start < at:  # pragma: no cover - two edits of one span would be a bug here
                raise YamlEditError("overlapping edits")
            out += [self.text[at:start], replacement]
            at = end
        return "".join([*out, self.text[at:]])

    # --- values ---------------------------------------------------------------------------------------

    def node(self, node: Node, new: Any, indent: int, flow: bool) -> None:
        """Change ``node``'s value to ``new``. ``indent``: the column a new block value goes to;
        ``flow``: the node is inside a flow collection."""
        if _canon(self.value(node)) == _canon(new):
            return
        if isinstance(node, MappingNode) and isinstance(new, dict) and new and self.mapping(node, new, indent):
            return
        if isinstance(node, SequenceNode) and isinstance(new, list) and new and self.sequence(node, new, indent):
            return
        self.replace(node, new, indent, flow)

    def fresh(self, value: Any, indent: int, style: str | None = None) -> str | list[str]:
        """A value new to the file in the stack files' style: inline text, or block lines at ``indent``
        (strings quoted in ``style``, their siblings' quoting, where they can be)."""
        pad, nested = " " * indent, " " * (indent + self.step)

        def inline(v: Any) -> str:
            return _flow(v) if isinstance(v, dict | list) else _scalar(v, style, flow=False)

        if isinstance(value, dict) and value:
            lines = []
            for key, v in value.items():
                head = f"{pad}{_scalar(key, flow=False)}:"
                if isinstance(v, dict) and v:
                    lines += [head, *self.fresh(v, indent + self.step, style)]
                elif isinstance(v, list) and any(isinstance(x, dict | list) for x in v):
                    lines += [head, *(f"{nested}- {inline(x)}" for x in v)]
                else:
                    lines.append(f"{head} {inline(v)}")
            return lines
        if isinstance(value, list) and any(isinstance(x, dict | list) for x in value):
            return [f"{pad}- {inline(x)}" for x in value]
        return inline(value)

    def replace(self, node: Node, new: Any, indent: int, flow: bool) -> None:
        """Write ``new`` in place of the whole node: a scalar in its quoting, a flow collection as flow."""
        start, end = node.start_mark.index, self.end(node)
        if isinstance(node, ScalarNode) and not isinstance(new, dict | list):
            rendered: str | list[str] = _scalar(new, node.style, flow=flow)
        elif flow or (isinstance(node, MappingNode | SequenceNode) and node.flow_style):
            rendered = _flow(new)
        else:
            rendered = self.fresh(new, node.start_mark.column if self.starts_line(start) else indent)
        if isinstance(rendered, list):
            if self.starts_line(start):  # a block value, or a sequence item: from the node's own column
                self.edits.append((start, end, self.newline.join([rendered[0].lstrip(), *rendered[1:]])))
            else:  # `key: value` becomes `key:` and the lines below
                while start > 0 and self.text[start - 1] == " ":
                    start -= 1
                self.edits.append((start, end, self.newline + self.newline.join(rendered)))
            return
        key = self.keys.get(id(node))
        if key is not None and node.start_mark.line > key.start_mark.line:
            # a value below its key written inline: after the colon, keeping a comment on the key's line
            colon = self.text.index(":", key.end_mark.index)
            rest = self.text[colon + 1 : self.line_end(colon)].strip()
            comment = f"  {rest}" if rest.startswith("#") else ""
            self.edits.append((colon + 1, end, f" {rendered}{comment}"))
            return
        if start == end and start > 0 and self.text[start - 1] not in " [{,":  # `key:` with no value
            rendered = f" {rendered}"
        self.edits.append((start, end, rendered))

    def mapping(self, node: MappingNode, new: dict, indent: int) -> bool:
        """Edit a mapping entry by entry; False when it has to be written anew."""
        entries = [(k, v, self.value(k)) for k, v in node.value]
        keys = [key for _, _, key in entries]
        style = _style([v for _, v, key in entries if key in new])  # of the entries that stay
        if not entries or len(set(map(_canon, keys))) != len(keys) or not any(key in new for key in keys):
            return False
        removed = [i for i, key in enumerate(keys) if key not in new]
        flow, n = bool(node.flow_style), len(entries)
        if not flow:
            for i in removed:  # a first key after a sequence dash goes up to the next key, which must stay
                if not self.only_indented(entries[i][0].start_mark.index) and (i + 1 in removed or i + 1 == n):
                    return False
        column = entries[0][0].start_mark.column
        self.keys.update((id(v), k) for k, v, _ in entries)
        for _, v, key in entries:
            if key in new:
                self.node(v, new[key], column + self.step, flow)
        added = [(key, value) for key, value in new.items() if key not in keys]
        last_end = self.end(entries[-1][1])
        if flow:
            kept_to = max((i for i in range(n) if i not in removed), default=-1) + 1  # removed after it: one cut
            for i in removed:
                if i < kept_to:
                    self.edits.append((entries[i][0].start_mark.index, entries[i + 1][0].start_mark.index, ""))
            if kept_to < n:
                self.edits.append((self.end(entries[kept_to - 1][1]), last_end, ""))
            if added:
                text = "".join(f", {_scalar(k, flow=True)}: {_flow(v, style)}" for k, v in added)
                self.edits.append((last_end, last_end, text))
            return True
        for i in removed:
            key_start = entries[i][0].start_mark.index
            if self.only_indented(key_start):
                self.edits.append((self.line_start(key_start), self.line_end(self.end(entries[i][1])), ""))
            else:
                self.edits.append((key_start, entries[i + 1][0].start_mark.index, ""))
        if added:
            lines = self.fresh(dict(added), column, style)
            self.insert_lines(self.line_end(last_end), lines if isinstance(lines, list) else [lines])
        return True

    def sequence(self, node: SequenceNode, new: list, indent: int) -> bool:
        """Edit a sequence item by item (what did not change keeps its text); False when it has to be
        written anew."""
        items = node.value
        if not items:
            return False
        old = [_canon(self.value(item)) for item in items]
        ops = difflib.SequenceMatcher(None, old, [_canon(v) for v in new], autojunk=False).get_opcodes()
        if not any(tag == "equal" for tag, *_ in ops) and len(items) != len(new):
            return False
        flow, n = bool(node.flow_style), len(items)
        dashes = [] if flow else [self.dash(item) for item in items]
        if None in dashes:
            return False
        column = node.start_mark.column + 2 if not flow else indent
        style = _style(items)
        block_items = any(isinstance(i, MappingNode | SequenceNode) and not i.flow_style for i in items)
        for tag, i1, i2, j1, j2 in ops:
            if tag == "equal":
                continue
            if tag == "replace" and i2 - i1 == j2 - j1:
                for a, b in zip(range(i1, i2), range(j1, j2), strict=True):
                    self.node(items[a], new[b], column, flow)
                continue
            if flow:
                text = ", ".join(_flow(v, style) for v in new[j1:j2])
                if i1 < i2 and j1 < j2:
                    self.edits.append((items[i1].start_mark.index, self.end(items[i2 - 1]), text))
                elif i1 < i2 < n:
                    self.edits.append((items[i1].start_mark.index, items[i2].start_mark.index, ""))
                elif i1 < i2:
                    self.edits.append((self.end(items[i1 - 1]), self.end(items[i2 - 1]), ""))
                elif i1 < n:
                    self.edits.append((items[i1].start_mark.index, items[i1].start_mark.index, f"{text}, "))
                else:
                    self.edits.append((self.end(items[-1]), self.end(items[-1]), f", {text}"))
                continue
            lines = [line for v in new[j1:j2] for line in self.item(v, node.start_mark.column, block_items, style)]
            if i1 < i2:
                start = self.line_start(dashes[i1])
                self.edits.append((start, self.line_end(self.end(items[i2 - 1])), self.lines(lines)))
            else:
                at = self.line_start(dashes[i1]) if i1 < n else self.line_end(self.end(items[-1]))
                self.insert_lines(at, lines)
        return True

    def item(self, value: Any, dash: int, block_items: bool, style: str | None) -> list[str]:
        """The lines of a new block sequence item: a collection inline, unless its siblings are blocks."""
        pad = " " * dash
        if isinstance(value, dict | list) and value and block_items:
            rendered = self.fresh(value, dash + 2)
            if isinstance(rendered, list):
                return [f"{pad}- {rendered[0].lstrip()}", *rendered[1:]]
            return [f"{pad}- {rendered}"]
        if isinstance(value, dict | list):
            return [f"{pad}- {_flow(value)}"]
        return [f"{pad}- {_scalar(value, style, flow=False)}"]
