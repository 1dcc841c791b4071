"""The report builds from a synthetic results tree, embeds every figure, has every table's rows,
leaves its data behind, survives disabled analyses, and renders in a real headless browser."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from synthetic_results import CONFLICT_PAIRS, MODELS, TASKS, write_synthetic_results
from taskvectors.report import build_report
from taskvectors.report.load import read_benchmarks, stage_times

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "data" / "reference"
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SECTION_TITLES = (
    "Headline: task vectors vs. ICL",
    "Per-task results",
    "Layer sweeps",
    "Geometry of task vectors",
    "Top tokens of the task vectors",
    "Conflicting tasks",
    "Order sensitivity",
    "Provenance",
)


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


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return write_synthetic_results(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(scope="module")
def report(run, tmp_path_factory) -> Path:
    return build_report(**run.report_kwargs(tmp_path_factory.mktemp("report"), REFERENCE))


def test_report_has_every_section(report):
    assert report.name == "index.html" and report.exists()
    assert _parse(report).headings == list(SECTION_TITLES)


def test_every_figure_is_embedded_and_saved(report):
    page = _parse(report)
    names = {img["data-file"] for img in page.images}
    expected = {
        "figures/headline.png",
        "figures/depth_curves.png",
        "figures/conflicts.png",
        "figures/order.png",
    }
    expected |= {f"figures/sweeps_{m}.png" for m in MODELS}
    expected |= {f"figures/geometry_{m}.png" for m in MODELS}
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
    assert rows["headline_table"] == len(MODELS)
    assert rows["per_task"] == len(MODELS) * len(TASKS)
    assert rows["conflicts_table"] == len(MODELS) * len(CONFLICT_PAIRS)
    assert rows["order_table"] == len(MODELS) * len(TASKS) * 2
    assert rows["geometry_summary"] == len(MODELS)
    assert rows["models"] == len(MODELS)
    for model in MODELS:
        assert rows[f"top_tokens_{model}"] == len(TASKS)
    assert rows["stage_times"] >= 8  # 8 rules plus the total row


def test_every_figure_and_table_has_its_data(report):
    page = _parse(report)
    csv_links = [link for link in page.links if link.endswith(".csv")]
    assert len(csv_links) >= len(page.images) + len(page.rows)
    for link in csv_links:
        assert (report.parent / link).exists(), link
    per_task = pd.read_csv(report.parent / "data" / "per_task.csv")
    assert len(per_task) == len(MODELS) * len(TASKS)


def test_headline_applies_the_paper_filter(report):
    html = report.read_text(encoding="utf-8")
    assert "dropped 1 of 10" in html
    assert "gpt-j · list first" in html
    assert re.search(r"gpt-j: task vectors recover \d+% of ICL accuracy .* over 4 of 5 tasks", html)
    assert re.search(r"tiny-gpt2: task vectors recover \d+% of ICL accuracy .* over 5 of 5", html)
    headline = pd.read_csv(report.parent / "data" / "headline_table.csv")
    assert headline.set_index("model").loc["gpt-j", "paper_model"] == "GPT-J 6B"
    assert pd.isna(headline.set_index("model").loc["tiny-gpt2", "paper_model"])


def test_disabled_analyses_get_a_note(run, tmp_path):
    kwargs = run.report_kwargs(tmp_path / "report", REFERENCE)
    kwargs["analyses"] = {
        "geometry": False,
        "top_tokens": False,
        "conflicts": False,
        "order": False,
    }
    page = build_report(**kwargs)
    html = page.read_text(encoding="utf-8")
    for name in ("geometry", "top_tokens", "conflicts", "order"):
        assert f"analyses.{name}: false" in html
    assert _parse(page).headings == list(SECTION_TITLES)


def test_missing_files_are_named_not_fatal(run, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(run.results_dir, results)
    shutil.rmtree(results / "analyses" / "order")
    (
        results / "analyses" / "conflicts" / "gpt-j" / f"{'__'.join(CONFLICT_PAIRS[0])}.parquet"
    ).unlink()
    kwargs = run.report_kwargs(tmp_path / "report", REFERENCE) | {
        "results_dir": results,
        "benchmarks_dir": tmp_path / "x",
    }
    html = build_report(**kwargs).read_text(encoding="utf-8")
    assert "No order results for" in html
    assert "No conflict results" in html
    assert "No Snakemake benchmark files were found." in html


def test_a_model_without_kept_tasks_still_gets_bars(run, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(run.results_dir, results)
    summary = pd.read_csv(results / "summary.csv")
    summary.loc[summary["model"] == "tiny-gpt2", "icl"] = summary["baseline"]
    summary.to_csv(results / "summary.csv", index=False)
    kwargs = run.report_kwargs(tmp_path / "report", REFERENCE) | {"results_dir": results}
    page = build_report(**kwargs)
    html = page.read_text(encoding="utf-8")
    assert "tiny-gpt2: no task passes the paper&#39;s filter" in html
    assert "shown unfiltered" in html
    plotted = pd.read_csv(page.parent / "data" / "headline.csv")
    ours = plotted[plotted["source"] == "this run"].set_index("model")
    assert ours.loc["tiny-gpt2", "filtered"] == False  # noqa: E712
    assert ours.loc["gpt-j", "n_tasks"] == 4


def test_greedy_answers_use_the_answer_column(tmp_path):
    run = write_synthetic_results(
        tmp_path,
        answer="greedy",
        models={"gpt-j": 6},
        tasks=TASKS[:2],
        conflict_pairs=CONFLICT_PAIRS[:1],
    )
    html = build_report(**run.report_kwargs(tmp_path / "report", REFERENCE)).read_text()
    assert "greedy multi-token answers" in html


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
def test_report_renders_in_a_browser(report, tmp_path):
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
        assert [re.sub(r"^\d+\s*", "", h) for h in headings] == list(SECTION_TITLES)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, height + 100)
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "report.png"))
    finally:
        driver.quit()
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


def test_stage_times_from_benchmark_files(tmp_path):
    header = "s\th:m:s\tmax_rss\tmax_vms\n"
    files = {
        "extract/m/a.tsv": "10.0\t0:00:10\t100.5\t1\n",
        "extract/m/b.tsv": "30.0\t0:00:30\t-\t1\n",
        "prepare_model/m.tsv": "5.0\t0:00:05\t50\t1\n6.0\t0:00:06\t70\t1\n",
        "summarize.tsv": "1.0\t0:00:01\t20\t1\n",
    }
    for name, body in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(header + body)
    (tmp_path / "broken.tsv").write_text("")
    jobs = read_benchmarks(tmp_path)
    assert len(jobs) == 4
    times = stage_times(jobs).set_index("rule")
    assert list(times.index) == ["extract", "prepare_model", "summarize"]
    assert times.loc["extract", "jobs"] == 2
    assert times.loc["extract", "total_s"] == 40.0 and times.loc["extract", "max_s"] == 30.0
    assert times.loc["extract", "max_rss_mb"] == 100.5
    assert times.loc["prepare_model", "total_s"] == 5.5  # mean of the repeats
    assert stage_times(read_benchmarks(tmp_path / "missing")).empty
