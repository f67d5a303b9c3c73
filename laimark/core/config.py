"""Typed configs: each stage's settings as a dataclass, built once from its command line.

A command parses its flags, then calls `from_args(StageConfig, namespace)`; from there on the
library sees only the dataclass, and the sidecar records `to_dict(config)` whole. A field takes
the flag of the same name, or the one named in its metadata (`arg("calib_temperature")`); a field
made with `nested(Cls)` is a config of its own built from the same flags (the model, the sandbox,
the solve format). A config checks itself in `__post_init__` and raises `ConfigError` with a
message that names the flag; the command turns that into a usage error.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

C = TypeVar("C")


class ConfigError(ValueError):
    """A setting that cannot be used; `str(e)` names the flag and says what is allowed."""


def arg(name: str, **kwargs: Any) -> Any:
    """A field filled from the flag whose destination is `name`."""
    return dataclasses.field(metadata={"arg": name}, **kwargs)


def nested(build: Callable[[argparse.Namespace], Any], default: type | None = None) -> Any:
    """A field holding a sub-config, built from the same flags by `build(namespace)`.

    Args:
        build: a config class (built with `from_args`), or a function of the namespace.
        default: the class whose no-argument instance is the default (`build` if a class).
    """
    if dataclasses.is_dataclass(build):
        cls = build
        maker = lambda ns: from_args(cls, ns)  # noqa: E731
        maker.reads = None  # type: ignore[attr-defined]  (flags_of looks into the class)
        maker.cls = cls  # type: ignore[attr-defined]
        default = default or cls
    else:
        maker = build
    return dataclasses.field(metadata={"build": maker}, default_factory=default)


def from_args(cls: type[C], ns: argparse.Namespace) -> C:
    """Build the config `cls` from parsed flags; a field with no flag keeps its default.

    Raises:
        ConfigError: a value the config (or one of its sub-configs) does not accept.
    """
    kwargs = {}
    for f in dataclasses.fields(cls):
        if "build" in f.metadata:
            try:
                kwargs[f.name] = f.metadata["build"](ns)
            except ValueError as e:
                raise ConfigError(str(e)) from None
        elif hasattr(ns, source := f.metadata.get("arg", f.name)):
            kwargs[f.name] = getattr(ns, source)
    return cls(**kwargs)


def flags_of(cls: type) -> set[str]:
    """The flag destinations that a config (with its sub-configs) reads."""
    out = set()
    for f in dataclasses.fields(cls):
        build = f.metadata.get("build")
        if build is None:
            out.add(f.metadata.get("arg", f.name))
        elif getattr(build, "cls", None) is not None:
            out |= flags_of(build.cls)
        else:
            out |= set(build.reads)
    return out


def to_dict(config: Any) -> dict:
    """The config as JSON-ready values (tuples become lists), for sidecars and resume checks."""
    return _plain(dataclasses.asdict(config))


def defaults_of(cls: type) -> dict:
    """The fields of a config class that have a default, as `to_dict` would write them.

    A sub-config's defaults are nested the same way; a field without a default is left out.
    """
    out: dict = {}
    for f in dataclasses.fields(cls):
        sub = getattr(f.metadata.get("build"), "cls", None)
        if sub is not None:
            out[f.name] = defaults_of(sub)
        elif f.default is not dataclasses.MISSING:
            out[f.name] = _plain(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
            out[f.name] = to_dict(value) if dataclasses.is_dataclass(value) else _plain(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def check(condition: bool, message: str) -> None:
    """Raise `ConfigError(message)` unless `condition` holds (for `__post_init__`)."""
    if not condition:
        raise ConfigError(message)
