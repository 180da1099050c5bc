"""How Helm combines a chart's values.yaml with user values (helm/helm pkg/chartutil coalesce.go;
helm-www docs "Values Files": "Helm will coalesce the default and overridden keys together", and
"If you need to delete a key from the default values, you may override the value of the key to be
null, in which case Helm will remove the key from the overridden values merge").

Maps merge key by key, recursively; any other value (lists included) replaces the default whole;
``None`` deletes the key.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


def merge(defaults: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(defaults))
    for key, value in values.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
