"""The report renders a synthetic run from its declared inputs only: every section with its
figures, intervals and flags; analyses switched off are left out; a declared input that is
missing or malformed stops it with a message naming the file; and the page renders in a real
headless browser."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from synthetic_results import (
    ANALYSES,
    CONFLICT_PAIRS,
    MODELS,
    SHARED,
    TASKS,
    write_synthetic_results,
)
from taskvectors.analyses import registry
from taskvectors.report.inputs import benchmark_rule, read_benchmarks, stage_times
from taskvectors.report.names import short_task_name
from taskvectors.results.files import ResultFileError, read_result_table
from taskvectors.results.storage import write_table

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
MAIN_TITLES = ("Headline: task vectors vs. ICL", "Per-task results", "Layer sweeps")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return write_synthetic_results(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(scope="module")
def all_titles(run) -> list[str]:
    """Every heading of the page in order: the main sections, each analysis's heading (as its
    ``synthetic`` function gives it, in registry order), provenance."""
    return [*MAIN_TITLES, *run.analysis_headings.values(), "Provenance"]


def test_the_synthetic_run_covers_every_registered_analysis(run):
    assert list(run.analysis_headings) == list(ANALYSES) == list(registry())


class _Page(HTMLParser):
    """Collects what the tests look at: images, tables and their rows, headings, links."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.rows: dict[str, int] = {}
        self.links: list[str] = []
        self.headings: list[str] = []
        self._table: str | None = None
        self._h2 = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        elif tag == "table":
            self._table = attrs.get("data-table")
            self.rows[self._table] = 0
        elif tag == "tr" and "data-row" in attrs and self._table:
            self.rows[self._table] += 1
        elif tag == "a":
            self.links.append(attrs.get("href", ""))
        elif tag == "h2":
            self._h2 = True
            self.headings.append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "h2":
            self._h2 = False

    def handle_data(self, data):
        if self._h2:
            self.headings[-1] += data


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.headings = [re.sub(r"^\d+", "", h.strip()) for h in page.headings]
    return page


def _text(path: Path) -> str:
    """The page's visible text with tags removed and whitespace collapsed."""
    html = path.read_text(encoding="utf-8")
    html = re.sub(r"<style.*?</style>|<img[^>]*>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", html).replace("&#39;", "'").replace("&amp;", "&")
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def report(run, tmp_path_factory) -> Path:
    return run.build(tmp_path_factory.mktemp("report"))


def test_report_has_every_section_in_order(report, all_titles):
    assert report.name == "index.html" and report.exists()
    assert _parse(report).headings == all_titles


def test_every_figure_is_embedded_and_saved(run, report):
    page = _parse(report)
    names = {img["data-file"] for img in page.images}
    expected = {"figures/headline.png", "figures/depth_curves.png"}
    main = ("per_task", "sweeps")
    expected |= {f"figures/{name}_{model}.png" for name in main for model in MODELS}
    expected |= {f"figures/{name}" for name in run.analysis_figures}
    assert names == expected
    for img in page.images:
        assert img["src"].startswith("data:image/png;base64,")
        assert (report.parent / img["data-file"]).stat().st_size > 1000


def test_page_needs_nothing_from_outside(report):
    html = report.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "@import" not in html and "url(http" not in html


def test_tables_have_expected_rows(report):
    rows = _parse(report).rows
    assert rows["headline_table"] == len(MODELS) * 3  # all, paper filter, shared
    assert rows["per_task"] == rows["scoring"] == len(MODELS) * len(TASKS)
    assert rows["conflicts_table"] == len(MODELS) * len(CONFLICT_PAIRS)
    assert rows["models"] == len(MODELS)
    for model in MODELS:
        assert rows[f"order_{model}_table"] == len(TASKS) + 1  # and the overall row
        assert rows[f"top_tokens_{model}"] == len(TASKS) - (model == "tiny-gpt2")
    rules = {"prepare_model", "run_task", "evaluate", "summarize", "score_analysis", *ANALYSES}
    assert rows["stage_times"] == len(rules) + 1  # and the total row


def test_every_figure_and_table_has_its_data(report):
    page = _parse(report)
    csv_links = [link for link in page.links if link.endswith(".csv")]
    assert len(csv_links) == len(page.images) + len(page.rows)
    for link in csv_links:
        assert (report.parent / link).exists(), link


def test_headline_compares_models_on_the_shared_tasks(report):
    text = _text(report)
    names = ", ".join(short_task_name(t) for t in SHARED)
    assert (
        f"compared on the {len(SHARED)} tasks that pass the paper's filter for every model: "
        f"{names}." in text
    )
    assert "gpt-j: 5 of 6 tasks; tiny-gpt2: 6 of 6 tasks" in text
    assert "The filter dropped 1 (model, task) pair:" in text
    assert " 1 tasks" not in text
    plotted = pd.read_csv(report.parent / "data" / "headline.csv")
    ours = plotted[plotted["source"] == "this run"]
    assert set(ours["task_set"]) == {"shared"} and set(ours["n_tasks"]) == {len(SHARED)}


def test_takeaways_carry_the_ratio_interval(run, report):
    means = pd.read_csv(run.inputs.summary_models).set_index(["model", "task_set"])
    row = means.loc[("gpt-j", "paper_filter")]
    expected = (
        f"gpt-j: task vectors recover {row['ratio']:.0%} "
        f"[{row['ratio_low']:.2f}, {row['ratio_high']:.2f}] of ICL accuracy"
    )
    assert expected in _text(report)


def test_per_task_table_shows_intervals_baselines_and_flags(run, report):
    text = _text(report)
    summary = pd.read_csv(run.inputs.summary)
    row = summary[(summary["model"] == "gpt-j") & (summary["task"] == "translation_fr_en")].iloc[0]
    assert f"{row['icl']:.2f} [{row['icl_low']:.2f}, {row['icl_high']:.2f}]" in text
    assert "list first ⚑ copy" in text  # the flagged task, with the baseline that explains it
    assert text.count("⚑ copy") == 1
    assert "leading · 887 50 / 50" in text  # spacing, pairs, test prompts / distinct queries
    assert "50 / 13" in text  # the letter tasks have 13 distinct queries
    assert "no best layer" in text
    assert "tiny-gpt2: no best layer for country capital" in text


def test_analysis_sections_render_their_score_tables(report):
    text = _text(report)
    assert "n (ICL / TV)" in text and "50 / 50" in text  # n per conflict pair
    assert "TV more order-invariant than ICL — yes" in text
    assert "undetermined (interval crosses 0)" in text
    assert "fr en leading L3 0.00 [0.00, 0.07] 0.16 [0.08, 0.29]" in text  # both spacings
    assert "On overall, the task vector is closer to ICL than GD" in text  # the verdict text
    assert "learning_rate" in text and "adam, lora rank 4" in text
    # recognition/learning: the function vector beside ICL and TV, with its own verdicts
    assert "recognition (familiar tasks), the function vector: accuracy above the baseline" in text
    assert "learning (novel tasks), the function vector: accuracy above chance" in text
    assert "FV − gold" in text
    # function vectors: what the FV adds to shuffled-output ICL (80% -> 90%), paired interval
    assert "FV − TV Shuffled: + FV FV k, layer" in text
    shown = pd.read_csv(report.parent / "data" / "function_vectors_accuracy_gpt-j.csv")
    assert {"accuracy", "fv_minus_tv", "shuffled_fv_gain"} <= set(shown["kind"])
    assert re.search(r"\+0\.25 \[[^]]+\] \+0\.10 \[[^]]+\] k=2, L1", text)
    # ... and each task's own top heads (head (1, 2) has the largest CIE in every synthetic task)
    assert "Max cosine with θ Own top heads Top tokens" in text
    assert re.search(r"country capital [0-9.]+ \(L3\) L1\.H2, L\d\.H\d, L\d\.H\d", text)
    assert "1-NN task accuracy" in text and "shared_inputs" in text


@pytest.mark.parametrize("off", [("gd",), ("geometry", "order"), ANALYSES])
def test_switched_off_analyses_are_left_out(run, tmp_path, off):
    page = run.without(*off).build(tmp_path / "report")
    headings = _parse(page).headings
    for name, title in run.analysis_headings.items():
        assert (title in headings) == (name not in off)
    assert headings[: len(MAIN_TITLES)] == list(MAIN_TITLES) and headings[-1] == "Provenance"
    assert "Analyses switched off in the config" in page.read_text(encoding="utf-8")


def test_a_missing_declared_input_is_an_error(run, tmp_path):
    root = tmp_path / "results"
    shutil.copytree(run.root, root)
    moved = run.inputs.scores["order", "gpt-j"]
    target = root / moved.relative_to(run.root)
    target.unlink()
    scores = {key: root / path.relative_to(run.root) for key, path in run.inputs.scores.items()}
    with pytest.raises(ResultFileError, match=re.escape(str(target))):
        run.build(tmp_path / "report", replace(run.inputs, scores=scores))


def test_a_score_table_without_a_column_of_its_kind_is_an_error(run, tmp_path):
    """The report checks a score table against the columns the stage writes (``TABLE_KINDS``)."""
    path = tmp_path / "order.parquet"
    table = read_result_table(run.inputs.scores["order", "gpt-j"]).drop(columns=["verdict"])
    write_table(path, table, {"test": True})
    scores = {**run.inputs.scores, ("order", "gpt-j"): path}
    with pytest.raises(ResultFileError, match=r"order\.parquet: missing columns \['verdict'\]"):
        run.build(tmp_path / "report", replace(run.inputs, scores=scores))


def test_a_summary_without_a_documented_column_is_an_error(run, tmp_path):
    path = tmp_path / "summary.csv"
    pd.read_csv(run.inputs.summary).drop(columns=["explained_by"]).to_csv(path, index=False)
    with pytest.raises(ResultFileError, match=r"summary\.csv: missing columns \['explained_by'\]"):
        run.build(tmp_path / "report", replace(run.inputs, summary=path))


def test_a_summary_of_other_tasks_is_an_error(run, tmp_path):
    path = tmp_path / "summary.csv"
    frame = pd.read_csv(run.inputs.summary)
    frame[frame["task"] != TASKS[0]].to_csv(path, index=False)
    with pytest.raises(ResultFileError, match="do not match the run's models × tasks"):
        run.build(tmp_path / "report", replace(run.inputs, summary=path))


def test_stage_times_from_benchmark_files(tmp_path):
    header = "s\th:m:s\tmax_rss\tmax_vms\n"
    files = {
        "benchmarks/run_task/m/a.tsv": "10.0\t0:00:10\t100.5\t1\n",
        "benchmarks/run_task/m/b.tsv": "30.0\t0:00:30\t-\t1\n",
        "benchmarks/prepare_model/m.tsv": "5.0\t0:00:05\t50\t1\n6.0\t0:00:06\t70\t1\n",
        "benchmarks/summarize/all.tsv": "1.0\t0:00:01\t20\t1\n",
    }
    paths = []
    for name, body in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + body)
        paths.append(path)
    times = stage_times(read_benchmarks(paths)).set_index("rule")
    assert list(times.index) == ["run_task", "prepare_model", "summarize"]
    assert times.loc["run_task", "jobs"] == 2
    assert times.loc["run_task", "total_s"] == 40.0 and times.loc["run_task", "max_s"] == 30.0
    assert times.loc["run_task", "max_rss_mb"] == 100.5
    assert times.loc["prepare_model", "total_s"] == 5.5  # mean of the repeats
    assert benchmark_rule(tmp_path / "benchmarks" / "score_analysis" / "gd" / "m.tsv") == (
        "score_analysis"
    )
    empty = tmp_path / "benchmarks" / "x" / "empty.tsv"
    empty.parent.mkdir()
    empty.write_text("")
    for bad, reason in ((empty, "not a benchmark TSV"), (empty.with_name("gone.tsv"), "missing")):
        with pytest.raises(ResultFileError, match=f"{re.escape(str(bad))}: .*{reason}"):
            read_benchmarks([*paths, bad])


def _browser():
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found: run `make test`, which installs "
            "chromium and chromium-driver (apt-get install -y chromium chromium-driver)."
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options, Service(executable_path=str(CHROMEDRIVER))


@pytest.mark.slow
def test_report_renders_in_a_browser(report, all_titles, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.common.by import By

    options, service = _browser()
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(options=options, service=service)
    try:
        driver.get(report.as_uri())
        assert driver.execute_script("return document.readyState") == "complete"
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not severe, severe
        images = driver.find_elements(By.TAG_NAME, "img")
        assert images
        broken = [
            i.get_attribute("alt")
            for i in images
            if not driver.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth > 0", i
            )
        ]
        assert not broken, broken
        headings = [h.text for h in driver.find_elements(By.TAG_NAME, "h2")]
        assert [re.sub(r"^\d+\s*", "", h) for h in headings] == all_titles
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, height + 100)
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "report.png"))
    finally:
        driver.quit()
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
