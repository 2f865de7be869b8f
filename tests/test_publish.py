"""``run-suite publish``: a static site that opens from the file system, escapes every string
from a config or a record, and, in a real headless browser where one is installed, loads
without console errors, sorts and filters its tables and shows its plots."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from suite.publish import publish
from suite.report import write_reports
from tests.test_report import a_row, search_rows, write_run

EVIL = "<script>alert('suite')</script>"
EVIL_LABEL = "<img src=x onerror=alert(1)>"


def evil_rows() -> list:
    rows = search_rows()
    for row in rows:
        row.suite = EVIL
    rows.append(a_row("search", 30, "cpu/dense", suite=EVIL, instance_label=EVIL_LABEL,
                      speedup=1.0, accuracy={"recall@10": 1.0}, accuracy_metric="recall@10",
                      roofline_fraction=2.31))
    return rows


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("publish")
    runs = []
    for name, rows, suite in (("run-a", evil_rows(), EVIL), ("run-b", search_rows(), "s")):
        out = write_run(root / name, rows)
        (out / "env.json").write_text(json.dumps({
            "suite": {"name": suite, "source": "evil.yaml"}, "logical_cores": 2,
            "devices": {"cpu": {"cpu_model": "Test CPU <b>bold</b>"}}, "git_commit": "abc123",
            "noise": {"verdict": "noisy", "reasons": ["others used 80%"]}}))
        write_reports(out)
        runs.append(out)
    index = publish(runs, root / "site")
    return index


def test_a_page_per_run_and_family_and_an_index_comparing_machines(site):
    folder = site.parent
    assert (folder / "run-a" / "search.html").exists() and (folder / "run-b" / "search.html").exists()
    assert list((folder / "run-a").glob("search_*.png"))
    index = site.read_text()
    assert "Machines compared" in index and 'href="run-a/search.html"' in index


def test_every_string_from_a_config_or_record_is_escaped(site):
    for page in site.parent.rglob("*.html"):
        text = page.read_text()
        assert "<script>alert" not in text and "<img src=x" not in text and "<b>bold" not in text
        assert text.count("<script>") == 1  # the page's own inline script only
    family = (site.parent / "run-a" / "search.html").read_text()
    assert "&lt;script&gt;alert(&#x27;suite&#x27;)&lt;/script&gt;" in family
    assert "&lt;img src=x onerror=alert(1)&gt;" in family


def test_no_published_row_shows_a_roofline_fraction_above_one(site):
    family = (site.parent / "run-a" / "search.html").read_text()
    assert "&gt; 100 % (INVALID)" in family and "231 %" not in family
    assert "roofline fraction 2.31 &gt; 1" in family  # the reason, in the row


def test_no_page_reaches_the_network(site):
    for page in site.parent.rglob("*.html"):
        text = page.read_text()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text


def test_rows_say_how_to_reproduce_them(site):
    family = (site.parent / "run-b" / "search.html").read_text()
    assert ("git checkout abc123 &amp;&amp; run-suite --suite s --only search "
            "--systems &#x27;cpu/approx&#x27;") in family


def _browser():
    """A headless Debian chromium through selenium, or a skip with the reason."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed "
                                    "(pip install selenium) for the browser test")
    for binary in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not Path(binary).exists() and not shutil.which(Path(binary).name):
            pytest.skip(f"{binary} not found (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,1600"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        return webdriver.Chrome(service=Service(shutil.which("chromedriver")
                                                or "/usr/bin/chromedriver"), options=options)
    except Exception as exc:  # a browser that cannot start here is a skip, not a failure
        pytest.skip(f"chromium did not start: {type(exc).__name__}: {str(exc)[:120]}")


@pytest.fixture(scope="module")
def browser():
    driver = _browser()
    yield driver
    driver.quit()


def test_the_site_works_in_a_real_browser(site, browser, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    page = site.parent / "run-a" / "search.html"
    browser.get(page.as_uri())
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    with pytest.raises(NoAlertPresentException):
        _ = browser.switch_to.alert.text  # the escaped <script> did not run
    assert EVIL in browser.find_element(By.TAG_NAME, "h1").text
    table = browser.find_element(By.ID, "rows-search")
    header = next(h for h in table.find_elements(By.CSS_SELECTOR, "thead th")
                  if h.text.startswith("speedup"))
    column = [h.text for h in table.find_elements(By.CSS_SELECTOR, "thead th")].index(header.text)
    header.click()
    values = _column(table, column)
    assert values == sorted(values) and len(values) >= 3
    header.click()
    assert _column(table, column) == sorted(values, reverse=True)
    search = browser.find_element(By.CSS_SELECTOR, "input.filter[data-table='rows-search']")
    search.send_keys("approx")
    shown = [r for r in table.find_elements(By.CSS_SELECTOR, "tbody tr") if r.is_displayed()]
    assert shown and all("approx" in r.text for r in shown)
    images = browser.find_elements(By.TAG_NAME, "img")
    assert images and all(browser.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0", img) for img in images)
    shot = tmp_path / "page.png"
    browser.save_screenshot(str(shot))
    assert _not_blank(shot)


def _column(table, index: int) -> list[float]:
    from selenium.webdriver.common.by import By
    cells = [row.find_elements(By.TAG_NAME, "td")[index]
             for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    return [float(c.get_attribute("data-v")) for c in cells if c.get_attribute("data-v")]


def _not_blank(path: Path) -> bool:
    import matplotlib.image as mpimg
    import numpy as np
    pixels = mpimg.imread(path)[..., :3]
    return float(pixels.std()) > 0.02 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
