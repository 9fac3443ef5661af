"""Great Expectations, set up once for every use: an ephemeral context, quiet, and a suite loaded from JSON.

GX is imported inside the functions only: importing it takes seconds, and an Airflow DAG imports this package.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import sys
import threading
import types
from pathlib import Path

from pipeline.errors import SetupError

ID_COLUMN = "article_id"
RESULT_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": [ID_COLUMN]}


# Imported by GX at start-up for a few distribution expectations (KS tests, KL divergence) this project's suites
# do not use: `scipy.stats` pulls in scipy's linalg, special and optimize, `altair` a charting stack. Deferred, they
# cost nothing until an expectation touches them: importing GX takes ~80 MB and ~0.9 s CPU less.
DEFERRED_MODULES = ("scipy.stats", "altair")


class DeferredModule(types.ModuleType):
    """Stands in for a module in `sys.modules` until code reads a name the module defines: then imports it.

    Unlike `importlib.util.LazyLoader`, the import statement itself (`import altair as alt`, which reads
    `__spec__`) does not load it; and asking whether it has a `__file__` does not either. Every other name is
    the real module's, read through on each access.
    """

    def __init__(self, spec):
        super().__init__(spec.name)
        self.__spec__, self.__loader__, self.__file__ = spec, spec.loader, spec.origin
        self.__package__ = spec.parent
        self._lock = threading.RLock()  # re-entered when the module, importing, reads itself from its parent
        self._real = None

    def __getattr__(self, attr: str):
        if attr in ("_lock", "_real"):
            raise AttributeError(attr)
        with self._lock:
            if self._real is None:
                if sys.modules.get(self.__name__) is self:
                    del sys.modules[self.__name__]
                self._real = importlib.import_module(self.__name__)  # also sets it on its parent package
        return getattr(self._real, attr)


def _defer(name: str) -> None:
    """Put a `DeferredModule` in `sys.modules` for `name`, unless it is imported already or not installed."""
    if name in sys.modules:
        return
    parent, _, child = name.rpartition(".")
    if parent:
        importlib.import_module(parent)  # a package's own __init__ runs now; only the submodule waits
        if name in sys.modules:
            return
    spec = importlib.util.find_spec(name)
    if spec is None:
        return  # not installed: GX imports what it can, as it would without this
    sys.modules[name] = module = DeferredModule(spec)
    if parent:
        setattr(sys.modules[parent], child, module)  # `from scipy import stats` finds the attribute


def import_gx():
    """The `great_expectations` module, imported with `DEFERRED_MODULES` deferred the first time."""
    if "great_expectations" not in sys.modules:
        for name in DEFERRED_MODULES:
            _defer(name)
    import great_expectations

    return great_expectations


def expectation_name(config) -> str:
    meta = getattr(config, "meta", None) or {}
    column = (config.kwargs or {}).get("column")
    return str(meta.get("name") or (f"{config.type}({column})" if column else config.type))


def load_suite(path: Path):
    """The suite from its JSON file; GX drops unknown expectations with only a log line, so count them."""
    gx = import_gx()

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        declared = len(data.get("expectations", []))
        suite = gx.ExpectationSuite(**data)
    except (OSError, ValueError, TypeError) as exc:
        raise SetupError(f"cannot load expectation suite {path}: {exc}") from exc
    if len(suite.expectations) != declared:
        raise SetupError(
            f"expectation suite {path}: {declared - len(suite.expectations)} expectation(s) are invalid"
        )
    return suite


def gx_context():
    """A GX ephemeral context: in-memory stores, no files, no analytics, no progress bars, quiet logs."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    gx = import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.ERROR)  # some GX modules set INFO on import
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context
