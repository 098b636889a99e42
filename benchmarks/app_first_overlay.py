"""`cathx app` in a real browser: time from upload to the first overlay, and to the finished run.

Starts `cathx app` (shipped cathx-fluoro) on a free local port, writes a synthetic multi-frame
DICOM (the engine's frames as 12-bit pixels), and in headless Chromium (Selenium; `make browser`
installs it) uploads it ``--repeats`` times, each in a freshly loaded page. Per upload: seconds
until the overlay image is in the page (the first frame, shown while the rest is predicted), and
until the status reports every frame done with the downloads ready. The first upload after the
server starts is reported apart (cold: first network call, first plot). Records the command, the
CPU, the threads and the load average (the measure depends on what else the machine runs).

Writes benchmarks/results/app_first_overlay.json and .md.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/app_first_overlay.py [--frames 30 --size 512 --repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
UPLOAD = "#upload input[type=file]"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "app_first_overlay")
    args = parser.parse_args()

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from cathx.data.synthetic import generate_sequence
    from cathx.fileio import atomic_write_json, atomic_write_text
    from cathx.system import cpu_description
    from tests.data.formats.test_dicom import write_dicom  # the DICOM writer of the reader's tests

    work = Path(tempfile.mkdtemp(prefix="cathx-app-bench-"))
    source = work / f"sequence_{args.frames}x{args.size}.dcm"
    frames = np.stack([np.round(s.image * 4095) for s in generate_sequence(11, args.frames, size=args.size)])
    write_dicom(source, frames, FrameTime=66.7)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "cathx", "app", "--port", str(port)], cwd=work,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=dict(os.environ, PYTHONUNBUFFERED="1"))
    for line in server.stdout:
        if "cathx app on" in line:
            break
    startup = time.perf_counter() - started
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    runs = []
    try:
        for _ in range(args.repeats):
            browser.get(f"http://127.0.0.1:{port}/")
            WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, UPLOAD))
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            browser.find_element(By.CSS_SELECTOR, UPLOAD).send_keys(str(source))
            WebDriverWait(browser, 300, 0.05).until(lambda d: any(
                image.get_attribute("naturalWidth") not in (None, "0")
                for image in d.find_elements(By.CSS_SELECTOR, "#overlay img")))
            first = time.perf_counter() - t0
            WebDriverWait(browser, 600, 0.1).until(
                lambda d: f"{args.frames} frames (dicom)" in d.find_element(By.ID, "status").text)
            runs.append({"first_overlay_s": round(first, 2), "finished_s": round(time.perf_counter() - t0, 2),
                         "load_average_1min": round(load, 2)})
            print(runs[-1], flush=True)
    finally:
        browser.quit()
        server.terminate()
        server.wait(60)
        shutil.rmtree(work, ignore_errors=True)
    record = {
        "command": f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')} .venv/bin/python "
                   f"benchmarks/app_first_overlay.py --frames {args.frames} --size {args.size} "
                   f"--repeats {args.repeats}",
        "input": f"{args.frames}-frame {args.size} px 12-bit DICOM ({frames.size * 2 / 1e6:.1f} MB pixels)",
        "model": "cathx-fluoro (torch, cpu)", "server_start_s": round(startup, 1), "runs": runs,
        "cpu": cpu_description(), "cpus": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    atomic_write_json(args.out.with_suffix(".json"), record)
    rows = "\n".join(f"| {i + 1}{' (cold)' if i == 0 else ''} | {r['first_overlay_s']:.2f} | "
                     f"{r['finished_s']:.2f} | {r['load_average_1min']:.1f} |" for i, r in enumerate(runs))
    atomic_write_text(args.out.with_suffix(".md"), (
        f"# cathx app: upload to first overlay\n\n{record['input']}, {record['model']}, headless "
        f"Chromium on the same machine; {record['cpu']}, OMP_NUM_THREADS={record['omp_num_threads']}, "
        f"{record['date']}.\n"
        f"Server start (models loaded, page served): {record['server_start_s']} s.\n\n"
        "| upload | first overlay, s | all frames + downloads, s | load average (1 min) |\n"
        "|---|---|---|---|\n"
        f"{rows}\n\n`{record['command']}`\n"))


if __name__ == "__main__":
    main()
