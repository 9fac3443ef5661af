"""GX is imported with `scipy.stats` and `altair` deferred: not executed by the import, loaded on first use, and
every expectation still works, the ones that need scipy included. Each case runs in a fresh interpreter: this
test process may have imported GX already."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

IMPORT_ONLY = """
import sys
from pipeline.quality.gx import import_gx
gx = import_gx()
assert gx.__name__ == "great_expectations"
assert type(sys.modules["scipy.stats"]).__name__ == "DeferredModule", type(sys.modules["scipy.stats"])
assert type(sys.modules["altair"]).__name__ == "DeferredModule", type(sys.modules["altair"])
print(sorted(m for m in ("scipy.linalg", "scipy.special", "scipy.optimize") if m in sys.modules))
"""

# The suite's own validation, then an expectation that computes with scipy.stats (KL divergence of a
# categorical column against a partition), through the same context the pipeline builds.
VALIDATE = """
import sys
from pathlib import Path
import pandas as pd
from pipeline.quality.gx import gx_context, import_gx
from pipeline.quality.validate import Validator
gx = import_gx()
Validator(Path("expectations/articles.json"))
assert type(sys.modules["scipy.stats"]).__name__ == "DeferredModule"
context = gx_context()
batch = (
    context.data_sources.add_pandas(name="p")
    .add_dataframe_asset(name="a")
    .add_batch_definition_whole_dataframe(name="b")
    .get_batch(batch_parameters={"dataframe": pd.DataFrame({"x": ["a", "a", "b", "b"]})})
)
near = {"values": ["a", "b"], "weights": [0.5, 0.5]}
far = {"values": ["a", "b"], "weights": [0.99, 0.01]}
results = [
    batch.validate(gx.expectations.ExpectColumnKLDivergenceToBeLessThan(column="x", partition_object=p, threshold=0.1))
    for p in (near, far)
]
print([r.success for r in results], type(sys.modules["scipy.stats"]).__name__)
"""


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_importing_gx_leaves_scipy_stats_and_altair_unexecuted():
    assert run(IMPORT_ONLY) == "[]"


def test_expectations_work_and_one_needing_scipy_loads_it():
    assert run(VALIDATE) == "[True, False] module"
