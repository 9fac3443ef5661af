"""Airflow test bootstrap: an isolated AIRFLOW_HOME with a fresh SQLite metadata DB per session.

Airflow reads AIRFLOW_HOME and AIRFLOW__* when it is first imported, so they are set here, at import time,
before any test module imports airflow.
"""

import atexit
import os
import shutil
import sys
import tempfile

import pytest

from tests.conftest import ROOT

DAGS_FOLDER = ROOT / "dags"
# Airflow's DAG processor and task runner put the DAG bundle's folder on sys.path (BundleDagBag), so the DAG files
# import their shared module (`_article_pipeline`); tests that load a DAG file do the same.
if str(DAGS_FOLDER) not in sys.path:
    sys.path.append(str(DAGS_FOLDER))

_HOME = tempfile.mkdtemp(prefix="airflow-test-home-")
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
os.environ["AIRFLOW_HOME"] = _HOME
# dag.test() serializes the DAG from the configured DAGs folder, so it must be the project's dags/.
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)


@pytest.fixture(scope="session")
def airflow_db():
    """The metadata schema, created once per session (what `airflow db migrate` does)."""
    from airflow.utils.db import initdb

    initdb()
    return _HOME
