"""``report.html`` and ``compare --html`` of real runs, opened in a real headless Chromium.

The runs are real (the CLI, a LocalCluster for ``distributed``), tiny (two naps per
repeat) and made once for the module.  Chromium is driven by selenium through Debian's
``chromium-driver``, with every host name resolving nowhere and a proxy on a closed port,
and the DevTools performance log records every request the page makes.  Without chromium,
chromedriver or selenium the tests skip with the reason; under ``CI=true`` they fail
(``tests/install.sh`` installs all three).
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import cli

pytestmark = pytest.mark.integration

#: ``report.html`` of a default run must stay below this (the SVG plots are most of it).
MAX_REPORT_BYTES = 5 * 2**20
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">&amp;"


def _unavailable(reason: str) -> None:
    """Skip with *reason*; under ``CI=true`` fail instead: CI installs the browser."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but the real browser cannot run: {reason}")
    pytest.skip(reason)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """A headless Chromium that cannot reach any host, logging console and network."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (pip install selenium; see tests/install.sh)")
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        _unavailable("chromium or chromedriver missing (apt-get install chromium "
                     "chromium-driver; see tests/install.sh)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1400,1000", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--disable-default-apps",
                     # Any request the page made could reach nothing: no name resolves and
                     # the proxy is a closed port.  The performance log still shows it.
                     "--host-resolver-rules=MAP * ~NOTFOUND",
                     f"--proxy-server=http://127.0.0.1:{_closed_port()}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def _open(driver, page: Path) -> tuple[list[dict], list[str]]:  # noqa: ANN001
    """Load *page*; its console messages and the URLs of every request made."""
    driver.get_log("browser")  # drop what an earlier page left
    driver.get_log("performance")
    driver.get(page.resolve().as_uri())
    time.sleep(0.3)  # let the load event's scripts run and log
    console = driver.get_log("browser")
    requests = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requests.append(message["params"]["request"]["url"])
    return console, requests


def _naps_run(tmp: Path, name: str, schedulers: str, nap: float, *options: str) -> Path:
    scenario = tmp / f"{name}.yml"
    scenario.write_text(
        "name: naps\n"
        "workloads: [{name: 'tests.sample_workloads:NAPS', size: tiny}]\n"
        f"schedulers: [{schedulers}]\nworkers: 1,2\nrepeats: 3\nwarmup: 0\n")
    results = tmp / name
    done = cli("run", str(scenario), "--results-dir", str(results), *options,
               env={"CLUSTERBENCH_TEST_NAP": str(nap)})
    assert done.returncode == 0, done.stderr
    (run_dir,) = results.iterdir()
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A real run with every local mode including distributed (hosts calibrated; with
    ``--profile`` when bokeh is here), and a slower one without distributed to compare."""
    tmp = tmp_path_factory.mktemp("html")
    profile = ("--profile",) if importlib.util.find_spec("bokeh") else ()
    return {"run": _naps_run(tmp, "run", "synchronous, threads, distributed", 0.02, *profile),
            "slow": _naps_run(tmp, "slow", "synchronous, threads", 0.2)}


def _points(run_dir: Path) -> list[dict]:
    with open(run_dir / "summary.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _cells(driver, table_id: str, column: int) -> list[str]:  # noqa: ANN001
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0] + ' tbody tr'))"
        ".map(r => r.cells[arguments[1]].textContent.trim())", f"#{table_id}", column)


def _header(driver, table_id: str, text: str):  # noqa: ANN202, ANN001
    from selenium.webdriver.common.by import By

    headers = driver.find_elements(By.CSS_SELECTOR, f"#{table_id} thead th")
    return next(h for h in headers if h.text.replace("⇅", "").strip() == text)


def _assert_not_blank(png: bytes, minimum_std: float = 10.0) -> None:
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    assert pixels.size and pixels.std() > minimum_std, pixels.std()


def test_the_network_check_sees_a_page_that_fetches(browser, tmp_path) -> None:
    """The detector itself: a page with a remote image and a fetch is caught both ways."""
    page = tmp_path / "leaky.html"
    page.write_text("<!DOCTYPE html><html><body><img src='http://example.invalid/x.png'>"
                    "<script>fetch('http://example.invalid/').catch(() => {})</script>"
                    "</body></html>")
    _, requests = _open(browser, page)
    assert any(url.startswith("http://example.invalid/") for url in requests), requests


def test_report_html_loads_offline_with_tables_plots_and_sorting(browser, runs) -> None:
    from selenium.webdriver.common.by import By

    run_dir = runs["run"]
    page = run_dir / "report.html"
    assert page.stat().st_size < MAX_REPORT_BYTES
    console, requests = _open(browser, page)
    assert console == [], console
    assert requests == [page.resolve().as_uri()], requests
    assert browser.title == f"clusterbench run {run_dir.name}"

    # The verdict sentences come first, then the plots.
    headings = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "h2")]
    assert headings[0] == "Verdict" and headings.index("Plots") < headings.index("Results")
    assert browser.find_elements(By.CSS_SELECTOR, "#section-verdict li")

    # One row per point, one per host (the local default's one host, two workers).
    points = _points(run_dir)
    assert len(_cells(browser, "table-results", 0)) == len(points) == 5
    hosts = json.loads((run_dir / "environment.json").read_text())["hosts"]
    host_rows = _cells(browser, "table-hosts", 0)
    assert sorted(host_rows) == sorted(hosts) and len(host_rows) >= 1
    capacity = _cells(browser, "table-hosts", 6)[0]
    assert all(name in capacity for host in hosts.values() for name in host["workers"])
    for table in ("table-modes", "table-overheads", "table-capacity"):
        assert browser.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr"), table

    # Clicking a header sorts by it, numerically; a second click reverses.
    medians = [float(cell) for cell in _cells(browser, "table-results", 5)]
    header = _header(browser, "table-results", "median s")
    header.click()
    assert [float(c) for c in _cells(browser, "table-results", 5)] == sorted(medians)
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert [float(c) for c in _cells(browser, "table-results", 5)] == sorted(medians,
                                                                             reverse=True)
    _header(browser, "table-results", "scheduler").click()
    schedulers = _cells(browser, "table-results", 2)
    assert schedulers == sorted(schedulers)

    # The plots are inline SVG of real size, and they are drawn (not blank).
    figures = browser.find_elements(By.CSS_SELECTOR, "figure svg")
    assert len(figures) == 4  # speedup, efficiency, modes, stragglers (small: see below)
    for figure in browser.find_elements(By.CSS_SELECTOR, "figure:not(#figure-stragglers) svg"):
        assert figure.size["width"] > 300 and figure.size["height"] > 200
    browser.execute_script("arguments[0].scrollIntoView()", figures[0])
    _assert_not_blank(figures[0].screenshot_as_png)
    browser.execute_script("window.scrollTo(0, 0)")
    _assert_not_blank(browser.get_screenshot_as_png())
    assert browser.find_elements(By.CSS_SELECTOR, "#figure-speedup path")

    # The straggler chart: one small panel per row of the stragglers table (each cluster
    # point of 2+ workers), each with its last finisher in red, drawn on screen.
    stragglers = _cells(browser, "table-stragglers", 5)
    panels = browser.find_elements(By.CSS_SELECTOR, '#figure-stragglers g[id^="axes_"]')
    assert stragglers and len(panels) == len(stragglers)
    red = browser.execute_script(
        "return Array.from(document.querySelectorAll('#figure-stragglers path'))"
        ".filter(p => getComputedStyle(p).fill === 'rgb(214, 39, 40)').length")
    assert red == len(panels)
    chart = browser.find_element(By.CSS_SELECTOR, "#figure-stragglers svg")
    browser.execute_script("arguments[0].scrollIntoView()", chart)
    assert chart.size["height"] > 100
    _assert_not_blank(chart.screenshot_as_png)


def test_hostile_names_stay_text_in_the_browser(browser, runs, tmp_path) -> None:
    """Workload and host names from users' files are escaped: nothing they say runs."""
    from selenium.webdriver.common.by import By

    run_dir = Path(shutil.copytree(runs["run"], tmp_path / "hostile"))
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    (run_dir / "records.jsonl").write_text("".join(
        json.dumps(r | {"workload": HOSTILE}) + "\n" for r in records))
    environment = json.loads((run_dir / "environment.json").read_text())
    (host,) = environment["hosts"].values()
    environment["hosts"] = {HOSTILE: host}
    environment["dashboard"] = "javascript:document.title='pwned'"
    (run_dir / "environment.json").write_text(json.dumps(environment))
    (run_dir / "report.html").unlink()
    done = cli("report", str(run_dir))
    assert done.returncode == 0, done.stderr
    console, requests = _open(browser, run_dir / "report.html")
    assert console == [] and len(requests) == 1, (console, requests)
    assert browser.title == "clusterbench run " + records[0]["run_id"]
    assert not browser.find_elements(By.CSS_SELECTOR, "img")
    assert HOSTILE in _cells(browser, "table-results", 0)
    assert _cells(browser, "table-hosts", 0) == [HOSTILE]
    links = [a.get_attribute("href") or "" for a in browser.find_elements(By.CSS_SELECTOR, "a")]
    assert not any(link.startswith("javascript:") for link in links)


def test_report_command_rebuilds_report_html(runs, tmp_path) -> None:
    run_dir = Path(shutil.copytree(runs["run"], tmp_path / "again"))
    before = (run_dir / "report.html").read_text()
    (run_dir / "report.html").unlink()
    started = time.monotonic()
    done = cli("report", str(run_dir))
    assert done.returncode == 0, done.stderr
    assert "report.html" in done.stdout
    print(f"clusterbench report: {time.monotonic() - started:.1f} s, "
          f"report.html {(run_dir / 'report.html').stat().st_size / 1024:.0f} KiB")
    # The same page from the same two stored files (the run id, not the directory, titles it).
    assert (run_dir / "report.html").read_text() == before
    assert not list(run_dir.glob(".*.tmp"))


def test_compare_html_loads_offline_with_the_comparison(browser, runs, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    page = tmp_path / "compare.html"
    done = cli("compare", str(runs["run"]), str(runs["slow"]), "--html", str(page))
    assert done.returncode == 0, done.stderr
    console, requests = _open(browser, page)
    assert console == [] and requests == [page.resolve().as_uri()], (console, requests)
    rows = _cells(browser, "table-compare", 9)
    # 3 points in both runs, 10x slower in B; distributed × 1, 2 only in A.
    assert sorted(rows) == ["only in A", "only in A", "slower", "slower", "slower"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#table-compare tr.verdict-slower")) == 3
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "3 slower, 0 faster, 0 unclear, 0 same, 2 only in A" in text
    header = _header(browser, "table-compare", "B / A")
    header.click()
    header.click()
    ratios = _cells(browser, "table-compare", 8)
    numbers = [float(r.rstrip("×")) for r in ratios if r != "—"]
    assert numbers == sorted(numbers, reverse=True) and all(7 < r <= 10.5 for r in numbers)
    _assert_not_blank(browser.get_screenshot_as_png())


def test_profile_saves_a_performance_report_per_distributed_point(browser, runs) -> None:
    """``run --profile``: one dask performance report per distributed point, linked from
    report.html, that opens offline too."""
    from selenium.webdriver.common.by import By

    if importlib.util.find_spec("bokeh") is None:
        _unavailable("bokeh is not installed (pip install bokeh; it is in the dev extra)")
    run_dir = runs["run"]
    profiles = sorted(p.name for p in (run_dir / "profiles").glob("*.html"))
    assert profiles == [f"tests.sample_workloads_NAPS-tiny-distributed-{k}.html"
                        for k in (1, 2)]
    _open(browser, run_dir / "report.html")
    links = {a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "a")}
    assert {(run_dir / "profiles" / name).resolve().as_uri() for name in profiles} <= links
    page = run_dir / "profiles" / profiles[-1]
    _, requests = _open(browser, page)
    remote = [url for url in requests if not url.startswith(("file:", "data:", "blob:"))]
    assert remote == [], remote
    assert browser.title == "Dask Performance Report"
    # The distributed points' records are measured as without --profile: all verified.
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert all(r["verified"] for r in records if r["scheduler"] == "distributed")
