"""`make bench`'s harness on tiny inputs: each part runs in fresh processes and the report says what it measured.

Nothing here asserts on time or memory: those are the bench's figures, not test outcomes.
"""

import gzip
import json

from bench.run import (
    MAIN_PARTS,
    TreeMemory,
    main,
    quality_compared,
    quality_figures,
    render,
    summary_rows,
    vary_page,
)

PAGE = """<!doctype html><html><head><title>{title}</title></head><body><nav>Home | World | Sport</nav>
<article><h1>{title}</h1><p>{body}</p>
<p>The council expects the project to finish before the tourist season, according to the published plan.</p>
</article><footer>Copyright 2026 Harbour News</footer></body></html>"""

BODIES = [
    "The harbour authority approved the dredging contract on Tuesday after a long public consultation, and work "
    "on the northern channel starts in spring while ferries keep to their timetable, officials said.",
    "Fishermen protested outside the town hall on Friday against new quotas for cod and haddock, saying the "
    "limits would force several family boats out of business before the end of the year.",
    "A storm flooded the lower market square overnight, closing shops and the coastal road, and volunteers "
    "spent the morning pumping water out of cellars while the weather service warned of more rain.",
]


def fake_aeb(root, pages=3):
    (root / "html").mkdir(parents=True)
    truth = {}
    for n in range(pages):
        key = f"{n:064x}"
        with gzip.open(root / "html" / f"{key}.html.gz", "wt", encoding="utf-8") as f:
            f.write(PAGE.format(title=f"Harbour story {n}", body=BODIES[n]))
        truth[key] = {"url": f"https://harbour.example/{n}", "articleBody": "..."}
    (root / "ground-truth.json").write_text(json.dumps(truth))
    return root


def test_page_variations_keep_copy_zero_and_vary_the_others():
    html = PAGE.format(title="A title", body=BODIES[0])
    assert vary_page(html, "x", 0) == html
    one, two = vary_page(html, "x", 1), vary_page(html, "x", 2)
    assert "<title>Update 1: A title</title>" in one and "<p>Update 2: this story was revised" in two
    assert one != two and vary_page(html, "x", 1) == one  # deterministic


def test_the_tiny_bench_writes_a_report_with_every_part_against_its_target(tmp_path, capsys):
    aeb = fake_aeb(tmp_path / "aeb")
    out, report = tmp_path / "benchmarks.md", tmp_path / "report.json"
    args = ["--parts", "steps,html,text,airflow", "--aeb", str(aeb), "--html-docs", "7", "--rounds", "1",
            "--text-sizes", "40,80", "--airflow-repeats", "1", "--workdir", str(tmp_path / "work"),
            "--out", str(out), "--json", str(report)]  # fmt: skip

    assert main(args) == 0

    data = json.loads(report.read_text())
    steps = data["steps"]
    assert steps["pages"] == 3 and steps["rounds"] == 1
    ms = steps["ms_per_page"]
    assert {
        "plain",
        "steps",
        "retain",
        "extract",
        "clean",
        "enrich",
        "minhash",
        *steps["extract_parts"],
    } <= set(ms)
    # the parts are inside the extraction, the steps inside the whole
    assert sum(ms[label] for label in steps["extract_parts"]) <= ms["extract"] <= ms["steps"]
    [html] = data["html"]["sizes"]
    assert [len(html[k]) for k in ("plain", "workers_1", "workers_2", "trafilatura_cli")] == [1, 1, 1, 1]
    assert html["plain"][0]["docs"] == 7 and html["plain"][0]["empty"] == 0
    cli = html["trafilatura_cli"][0]
    assert cli["docs"] == 7 and 3 <= cli["files_written"] <= 7  # it skips texts it has seen
    assert all(r["tree_cpu_s"] > 0 for k in ("plain", "workers_2", "trafilatura_cli") for r in html[k])
    # a run's CPU counts its workers': more than its main process alone
    assert html["workers_2"][0]["tree_cpu_s"] > html["workers_2"][0]["main_cpu_s"]
    for run in html["workers_1"] + html["workers_2"]:
        assert run["status"] == "success" and run["read"] == 7
        assert run["landed"] + run["duplicates"] + run["quarantined"] == 7
        assert run["landed"] >= 3 and run["rows"]["raw_documents"] == 7
        assert set(run["phases_s"]) == {"process", "audit", "load"}
        assert run["tree_peak_pss_mb"] > 0 and run["processes"] >= 3  # main, forkserver, workers
    # the main process's CPU by part, each by its thread's clock: the top-level parts do not overlap
    parts = html["workers_2"][0]["main_cpu_parts_s"]
    assert set(parts) <= {label for label, *_ in MAIN_PARTS}
    for label in ("GX import and suite (warm-up thread)", "feeder thread (reads, hands pages to the workers)",
                  "validate (GX)", "dedupe", "stories", "load (publish)"):  # fmt: skip
        assert parts[label] > 0, label
    top = sum(v for label, v in parts.items() if not label.startswith("  - "))
    assert top <= html["workers_2"][0]["main_cpu_s"] + 0.05
    feeder = parts["feeder thread (reads, hands pages to the workers)"]
    assert sum(v for label, v in parts.items() if label.startswith("  - ")) <= feeder + 0.01
    assert [r["size"] for r in data["text"]["runs"]] == [40, 80]
    assert all(r["read"] == r["size"] and r["rows"]["articles"] == r["landed"] for r in data["text"]["runs"])
    assert data["airflow"]["dag_files"] == ["article_ingest.py", "article_quality.py", "article_stream.py"]
    assert data["airflow"]["heavy_modules_after_dags"] == []

    text = out.read_text()
    for figure in (
        "2 workers / plain trafilatura, 7 pages",
        "CPU of all processes / plain trafilatura's, 7 pages",
        "2 workers / trafilatura CLI --parallel 2, 7 pages",
        "1 worker / plain trafilatura, 7 pages",
        "| trafilatura CLI, --parallel 2 |",
        "## Where a worker's CPU goes on a page",
        "| plain `trafilatura.extract` |",
        "a worker's CPU per page / plain trafilatura's",
        "text, 80 articles",
        "load, 80-article run",
        "Airflow: import",
    ):
        assert figure in text
    assert "| <= 0.6x |" in text and "| <= 1.25x |" in text and "| <= 1.2x |" in text
    assert "## HTML path, 7 pages" in text and "## Plain-text path and load" in text
    assert "Where the main process's CPU goes in the 2-worker runs (7 pages" in text
    assert "| **main process, the run** |" in text
    assert text in capsys.readouterr().out

    # against an earlier run: its steps, the sizes both ran and their main process's parts, side by side
    earlier = {**data, "machine": {**data["machine"], "commit": "0123abc"}, "date": "2026-12-01 00:00 UTC"}
    compared = render({**data, "before": earlier})
    assert "## Before and after" in compared and "Before is commit 0123abc" in compared
    assert "| **all steps** |" in compared.split("## Before and after")[1]
    assert "7 pages end to end" in compared and "The main process's parts, 7 pages" in compared
    assert "## Before and after" not in render({k: v for k, v in data.items() if k != "before"})

    # a second size: its rows, without the 1-worker configuration (run at the first size only)
    second = {**html, "docs": 70, "workers_1": [], "ratio_1": None}
    rows = [row[0] for row in summary_rows({"html": {"sizes": [html, second]}})]
    assert "HTML end to end, 2 workers / plain trafilatura, 70 pages" in rows
    assert "HTML end to end, 1 worker / plain trafilatura, 70 pages" not in rows
    assert "HTML end to end, 1 worker / plain trafilatura, 7 pages" in rows


def test_tree_memory_counts_the_children_of_a_process(tmp_path):
    import subprocess
    import sys

    code = "import subprocess, sys, time; b = bytearray(80 * 2**20); subprocess.run([sys.executable, '-c', " \
           "'import time; x = bytearray(60 * 2**20); time.sleep(1.5)'])"  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code])
    with TreeMemory(proc.pid, interval=0.05) as memory:
        proc.wait()
    assert memory.peak_processes == 2
    assert memory.peak_total_mb > 140 and memory.peak_pss_mb > 140
    assert 60 < memory.peak_process_mb < memory.peak_total_mb


def test_bad_arguments_are_refused(tmp_path, capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["--parts", "html,nope"])
    assert "--parts takes some of" in capsys.readouterr().err
    assert main(["--parts", "html", "--aeb", str(tmp_path / "missing"), "--out", str(tmp_path / "o.md")]) == 3
    assert "AEB corpus not found" in capsys.readouterr().err


def test_the_memory_part_runs_the_cli_on_jsonl_records_at_each_size(tmp_path):
    out, report = tmp_path / "benchmarks.md", tmp_path / "report.json"
    args = ["--parts", "memory", "--memory-sizes", "30,60", "--workdir", str(tmp_path / "work"),
            "--out", str(out), "--json", str(report)]  # fmt: skip

    assert main(args) == 0

    memory = json.loads(report.read_text())["memory"]
    assert [r["size"] for r in memory["runs"]] == [30, 60]
    for run in memory["runs"]:
        assert run["command"].startswith("python -m pipeline ingest ") and "--workers 2" in run["command"]
        assert (run["exit"], run["status"], run["read"], run["landed"]) == (
            0,
            "success",
            run["size"],
            run["size"],
        )
        assert 0 < run["stages_peak_rss_mb"] <= run["main_peak_rss_mb"] and run["processes"] >= 3
    records = sorted((tmp_path / "work").glob("records-60-*.jsonl"))
    assert len(records) == 1 and len(records[0].read_text().splitlines()) == 60
    assert memory["growth"]["sizes"] == [30, 60] and "main_bytes" in memory["growth"]
    text = out.read_text()
    assert "JSONL, 60 short records: peak memory" in text and "## Memory against the run's size" in text
    assert "main process peak growth per article, 30 to 60 records" in text and "<= 1,024 bytes" in text


def test_the_quality_part_runs_make_evals_evals_and_says_which_corpus_it_left_out(tmp_path):
    aeb = fake_aeb(tmp_path / "aeb")
    out, report = tmp_path / "benchmarks.md", tmp_path / "report.json"
    args = ["--parts", "quality", "--aeb", str(aeb), "--fundus", str(tmp_path / "no-fundus"),
            "--ecbplus", str(tmp_path / "no-ecbplus"), "--out", str(out), "--json", str(report),
            "--before", str(tmp_path / "no-before.json")]  # fmt: skip

    assert main(args) == 0

    quality = json.loads(report.read_text())["quality"]
    figures = quality["figures"]
    assert {"AEB body f1", "dedupe: false merges", "dedupe: articles lost"} <= set(figures)
    assert not any(label.startswith(("fundus", "ECB+")) for label in figures)  # their corpora are absent
    assert any(a.startswith("stories:") for a in quality["absent"])
    assert any("fundus" in a for a in quality["absent"])
    text = out.read_text()
    assert "## Quality" in text and "| AEB body f1 | - |" in text  # nothing to compare with: no before


def test_quality_figures_are_compared_each_way_up():
    now = {"AEB body f1": 0.9821, "dedupe: false merges": 2, "ECB+ all: hard negatives merged": 0.004,
           "fundus all: title": 0.93, "new figure": 1.0}  # fmt: skip
    before = {"AEB body f1": 0.98209, "dedupe: false merges": 0, "ECB+ all: hard negatives merged": 0.009,
              "fundus all: title": 0.86}  # fmt: skip
    verdicts = {label: verdict for label, _, _, verdict in quality_compared(now, before)}
    assert verdicts == {
        "AEB body f1": "equal",  # to 3 decimals
        "dedupe: false merges": "**worse**",  # more is worse here
        "ECB+ all: hard negatives merged": "better",
        "fundus all: title": "better",
        "new figure": "-",
    }
    report = {"quality": {"figures": now, "absent": []}, "before": {"machine": {"commit": "0123abc"},
              "quality": {"figures": before}}}  # fmt: skip
    [row] = [r for r in summary_rows(report) if r[0].startswith("quality")]
    assert "against 0123abc" in row[0] and "3 of 4 equal or better; lower: dedupe: false merges" in row[1]
    assert row[3] == "**missed**"
    report["quality"]["figures"]["dedupe: false merges"] = 0
    [row] = [r for r in summary_rows(report) if r[0].startswith("quality")]
    assert row[3] == "met"


def test_quality_figures_read_each_evals_json():
    extraction = {
        "scores": {"pipeline (trafilatura + our rules)": {"f1": 0.98, "precision": 0.97, "recall": 0.99}},
        "fundus": {"scores": {"pipeline (trafilatura + our rules)": {
            part: {"overall": {"f1": 0.9, "title": 0.8, "authors": 0.7, "date": 0.6}}
            for part in ("all", "tune", "report")}}},
    }  # fmt: skip
    dedupe = {"precision": 1.0, "recall": 0.97, "false_merges": 0, "articles_lost": 0,
              "story_records_precision": 0.8, "story_records_recall": None}  # fmt: skip
    stories = {part: {"scores": {"pipeline story_id": {"f1": 0.7, "precision": 0.99, "recall": 0.56,
               "hard_merged": 3, "hard_pairs": 1000}}} for part in ("all", "tune", "report")}  # fmt: skip
    figures = quality_figures(extraction, dedupe, stories)
    assert figures["AEB body recall"] == 0.99 and figures["fundus report: date"] == 0.6
    assert figures["ECB+ tune: hard negatives merged"] == 0.003
    assert "dedupe: story_id recall, all records" not in figures  # no value: no figure
    assert len(figures) == 3 + 12 + 5 + 12
    assert quality_figures() == {}
