"""Flattening of differentiable values: tuples, namedtuples, lists, dicts, dataclasses and
``tf.nest`` custom nodes (``TangentVector``), with paths for messages.

``tf.nest`` covers all of these except dataclasses (which Swift users reach for as their
``struct``s) and gives no paths for error messages, so this small walker adds both; everything that
is not a container is a leaf.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any


def _is_namedtuple(value) -> bool:
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def _is_dataclass_instance(value) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def _is_custom_node(value) -> bool:
    """A value implementing ``tf.nest``'s ``__tf_flatten__`` protocol (``TangentVector``)."""
    return hasattr(type(value), "__tf_flatten__") and not isinstance(value, type)


def is_container(value) -> bool:
    return isinstance(value, (tuple, list, dict)) or _is_dataclass_instance(value) or _is_custom_node(value)


def _children(value) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [(f"[{key!r}]", value[key]) for key in sorted(value, key=repr)]
    if _is_namedtuple(value):
        return [(f".{name}", getattr(value, name)) for name in value._fields]
    if isinstance(value, (tuple, list)):
        return [(f"[{index}]", item) for index, item in enumerate(value)]
    if _is_custom_node(value):
        return [(f"[{index}]", item) for index, item in enumerate(value.__tf_flatten__()[1])]
    return [(f".{field.name}", getattr(value, field.name)) for field in dataclasses.fields(value)]


def _rebuild(template, children: list) -> Any:
    if isinstance(template, dict):
        keys = sorted(template, key=repr)
        return (
            type(template)(zip(keys, children, strict=True))
            if type(template) is not dict
            else dict(zip(keys, children, strict=True))
        )
    if _is_namedtuple(template):
        return type(template)(*children)
    if isinstance(template, tuple):
        return tuple(children)
    if isinstance(template, list):
        return list(children)
    if _is_custom_node(template):
        return type(template).__tf_unflatten__(template.__tf_flatten__()[0], tuple(children))
    fields = dataclasses.fields(template)
    values = {field.name: child for field, child in zip(fields, children, strict=True)}
    init_values = {
        name: value for name, value in values.items() if next(f for f in fields if f.name == name).init
    }
    rebuilt = dataclasses.replace(template, **init_values)
    for field in fields:
        if not field.init:
            object.__setattr__(rebuilt, field.name, values[field.name])
    return rebuilt


def flatten_with_paths(value, path: str = "") -> Iterator[tuple[str, Any]]:
    """Yields ``(path, leaf)`` pairs in a fixed order (dict keys sorted, as ``tf.nest`` does)."""
    if is_container(value):
        for suffix, child in _children(value):
            yield from flatten_with_paths(child, path + suffix)
    else:
        yield path, value


def flatten(value) -> list:
    return [leaf for _, leaf in flatten_with_paths(value)]


def _build(node, iterator):
    if is_container(node):
        return _rebuild(node, [_build(child, iterator) for _, child in _children(node)])
    return next(iterator)


def pack_like(template, leaves: list) -> Any:
    """Inverse of ``flatten``: a value shaped like ``template`` holding ``leaves``."""
    if not is_container(template):
        return leaves[0]
    # A module-level recursive helper, not a closure: a self-referencing closure is a reference
    # cycle that would keep the leaves (activations) alive until Python's cyclic GC runs.
    return _build(template, iter(leaves))


def map_leaves(function: Callable, value) -> Any:
    return pack_like(value, [function(leaf) for leaf in flatten(value)])


def flatten_up_to(shallow, deep) -> list:
    """The subtrees of ``deep`` at the leaves of ``shallow`` (a tangent against its argument's structure).

    Containers are matched child by child in order; a ``ValueError`` says where they differ.
    """
    out: list = []
    _flatten_up_to(shallow, deep, "", out)
    return out


def _flatten_up_to(shallow, deep, path: str, out: list) -> None:
    if not is_container(shallow):
        out.append(deep)
        return
    children = _children(shallow)
    if not is_container(deep) or len(_children(deep)) != len(children):
        count = len(_children(deep)) if is_container(deep) else 1
        raise ValueError(
            f"{path or 'the value'} has {count} component(s) where {len(children)} were expected"
        )
    for (suffix, child), (_, other) in zip(children, _children(deep), strict=True):
        _flatten_up_to(child, other, path + suffix, out)
