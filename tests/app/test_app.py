"""`cathx app` in a real browser: the server runs as its own process on a free local port and
headless Chromium (Debian's chromium + chromium-driver, through Selenium) uploads files to it.

Without Chromium the module is skipped locally with the reason; with CATHX_REQUIRE_BROWSER set (`make
test` sets it when run as root, as CI does, after installing Chromium) a missing browser fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.request

import numpy as np
import pytest

from builders import write_dicom  # the DICOM writer of the reader's tests

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
REQUIRED = bool(os.environ.get("CATHX_REQUIRE_BROWSER"))
UPLOAD_LIMIT_MB = 1


def _browser_or_skip() -> tuple[str, str]:
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not path]
    if missing:
        reason = f"{' and '.join(missing)} not on PATH (install with `make browser`)"
        if REQUIRED:
            pytest.fail(f"CATHX_REQUIRE_BROWSER is set but {reason}")
        pytest.skip(reason)
    return CHROMIUM, CHROMEDRIVER


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`cathx app` on a free port, its cwd, HOME and TMPDIR in fresh folders: on exit all must be empty
    (the app writes only inside its temporary folder, and removes it)."""
    _browser_or_skip()
    base = tmp_path_factory.mktemp("app")
    cwd, tmp, home = base / "cwd", base / "tmp", base / "home"
    for folder in (cwd, tmp, home):
        folder.mkdir()
    port = _free_port()
    env = dict(os.environ, TMPDIR=str(tmp), HOME=str(home), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "cathx", "app", "--port", str(port),
                                "--max-upload-mb", str(UPLOAD_LIMIT_MB)],
                               cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in process.stdout:
            lines.append(line)
            if "cathx app on http" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(90):
        process.kill()
        pytest.fail("cathx app did not start within 90 s: " + "".join(lines[-20:]))
    yield f"http://127.0.0.1:{port}/"
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("cathx app did not stop within 30 s of SIGTERM")
    assert not any("Traceback" in line for line in lines), "".join(lines)
    assert sorted(p.name for p in cwd.iterdir()) == [], "the app wrote into its working folder"
    assert sorted(p.name for p in tmp.iterdir()) == [], "the app left files in the temporary folder"
    assert sorted(p.name for p in home.rglob("*")) == [], "the app wrote into the home folder"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium, driver_path = _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.downloads = downloads
    yield driver
    driver.quit()


def _open(browser, url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#upload input[type=file]"))
    return browser.find_element(By.CSS_SELECTOR, "#upload input[type=file]")


def _status_contains(browser, text, timeout=60):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, timeout, 0.2).until(lambda d: text in d.find_element(By.ID, "status").text)
    return browser.find_element(By.ID, "status").text


def _table_rows(browser, elem_id):
    from selenium.webdriver.common.by import By

    cells = browser.find_elements(By.CSS_SELECTOR, f"#{elem_id} tbody td")
    columns = len(browser.find_elements(By.CSS_SELECTOR, f"#{elem_id} thead th"))
    return len(cells) // max(columns, 1)


def test_dicom_upload_shows_overlay_tables_and_downloads(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from cathx.data.synthetic import generate_sequence

    frames = np.stack([np.round(s.image * 4095) for s in generate_sequence(3, 6, size=256)])
    source = tmp_path / "case.dcm"
    write_dicom(source, frames, FrameTime=66.7)
    _open(browser, server).send_keys(str(source))
    status = _status_contains(browser, "6 frames (dicom)")
    assert "cathx-fluoro" in status
    overlay = browser.find_element(By.CSS_SELECTOR, "#overlay img")
    assert overlay.get_attribute("naturalWidth") == "256"
    assert _table_rows(browser, "catheters") >= 1 and _table_rows(browser, "electrodes") >= 1
    assert browser.find_element(By.ID, "frame").is_displayed()
    assert browser.find_element(By.CSS_SELECTOR, "#motion img").get_attribute("naturalWidth") != "0"
    for key in ("json", "csv", "mp4", "masks"):
        assert browser.find_element(By.ID, f"download-{key}").is_displayed()
    number = browser.find_element(By.CSS_SELECTOR, "#frame input[type=number]")  # the slider's own box
    number.send_keys(Keys.CONTROL, "a")
    number.send_keys("3", Keys.ENTER)
    WebDriverWait(browser, 60, 0.2).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#overlay img").get_attribute("src").endswith("case_00003.png"))
    browser.find_element(By.ID, "download-json").click()
    saved = browser.downloads / "case_results.json"
    WebDriverWait(browser, 60, 0.2).until(lambda d: saved.is_file())
    payload = json.loads(saved.read_text())
    assert payload["summary"]["frames"] == 6 and len(payload["frames"]) == 6


def test_bad_uploads_show_a_message_and_the_server_keeps_serving(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    corrupt = tmp_path / "corrupt.dcm"
    corrupt.write_bytes(b"\0" * 128 + b"DICM" + os.urandom(4000))
    _open(browser, server).send_keys(str(corrupt))
    status = _status_contains(browser, "Cannot use this input.")
    assert "corrupt.dcm:" in status and str(tmp_path) not in status

    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    _open(browser, server).send_keys(str(notes))
    assert "notes.txt: unsupported file type .txt" in _status_contains(browser, "Cannot use this input.")

    big = tmp_path / "big.png"
    big.write_bytes(os.urandom((UPLOAD_LIMIT_MB << 20) + 1000))
    _open(browser, server).send_keys(str(big))  # Gradio refuses it before it reaches cathx
    WebDriverWait(browser, 60, 0.2).until(
        lambda d: "exceed the maximum allowed size" in d.find_element(By.TAG_NAME, "body").text)

    with urllib.request.urlopen(server, timeout=10) as response:
        assert response.status == 200
    _open(browser, server)
    browser.find_element(By.ID, "example-frame").click()  # a prediction still runs after the refusals
    assert "1 frame (image)" in _status_contains(browser, "1 frame (image)")


def test_predict_again_reruns_the_example_on_the_page(server, browser):
    """After a synthetic example, "Predict with this model" predicts that example again (it read the
    empty upload box before 2026-12-06 and said no file was received)."""
    import time

    from selenium.webdriver.common.by import By

    _open(browser, server)
    browser.find_element(By.ID, "example-frame").click()
    first = _status_contains(browser, "1 frame (image)")
    browser.find_element(By.ID, "run").click()
    deadline = time.monotonic() + 60
    status = first
    while time.monotonic() < deadline:  # until the rerun's status replaces the first (or a refusal shows)
        status = browser.find_element(By.ID, "status").text
        if "Cannot use" in status or (status != first and "1 frame (image)" in status):
            break
        time.sleep(0.2)
    assert "Cannot use this input" not in status and "1 frame (image)" in status, status


def test_chest_tab_classifies_a_radiograph_and_names_a_bad_upload(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, server)
    browser.find_element(By.XPATH, "//button[@role='tab'][contains(., 'Chest radiograph')]").click()
    WebDriverWait(browser, 30, 0.2).until(lambda d: d.find_element(By.ID, "chest-example").is_displayed())
    browser.find_element(By.ID, "chest-example").click()
    WebDriverWait(browser, 90, 0.2).until(lambda d: "most likely label" in d.find_element(By.ID, "chest-status").text)
    status = browser.find_element(By.ID, "chest-status").text
    assert "512x512 px with cathx-chest" in status and "line tip(s)" in status
    assert browser.find_element(By.CSS_SELECTOR, "#chest-overlay img").get_attribute("naturalWidth") == "512"
    grid = browser.find_element(By.CSS_SELECTOR, "#chest-labels [role=grid]")
    assert grid.get_attribute("aria-rowcount") == "12"  # the header and the 11 labels
    for key in ("json", "mask"):
        assert browser.find_element(By.ID, f"chest-download-{key}").is_displayed()

    notes = tmp_path / "notes.txt"
    notes.write_text("not a radiograph")
    browser.find_element(By.CSS_SELECTOR, "#chest-upload input[type=file]").send_keys(str(notes))
    WebDriverWait(browser, 60, 0.2).until(
        lambda d: "Cannot use this input." in d.find_element(By.ID, "chest-status").text)
    status = browser.find_element(By.ID, "chest-status").text
    assert "notes.txt: not an image (.jpg, .jpeg, .png) or DICOM file" in status and str(tmp_path) not in status
