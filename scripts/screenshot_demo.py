"""Screenshot the web demo as a visitor sees it: a sample chosen, Detect pressed, the result.

Starts ``serkit demo`` on a free port, drives headless Chromium with Playwright (pick the
sample in the dropdown, press Detect, wait for the charts) and saves a full-page PNG
(default ``docs/images/demo.png``). Needs Chromium and Playwright's Python package, which
serkit does not depend on:

    apt-get install -y chromium && pip install playwright
    python scripts/screenshot_demo.py [--model NAME|PATH] [--samples FOLDER] [--sample NAME]

Without ``--samples`` the page gets serkit's example clips plus one clip made by joining
them (about 15 s), so that the screenshot also shows the timeline of a long recording;
that clip is the one chosen unless ``--sample`` names another.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import soundfile as sf

from serkit.audio import load_audio
from serkit.demo import DEFAULT_SAMPLES, find_samples
from serkit.fileio import atomic_write_bytes

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "images" / "demo.png"
JOINED_NAME = "all_examples_joined.flac"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 120
RESULT_TIMEOUT_S = 120


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    with tempfile.TemporaryDirectory(prefix="serkit-demo-shot-") as scratch:
        samples, sample = _samples(args, Path(scratch))
        port = _free_port()
        server = _start_demo(samples, args.model, port, Path(scratch) / "demo.log")
        try:
            _wait_until_healthy(port, server, Path(scratch) / "demo.log")
            png = _screenshot(f"http://127.0.0.1:{port}", sample, args.chromium, args.width)
        finally:
            _stop(server)
    atomic_write_bytes(args.out, png)
    print(f"wrote {args.out} ({len(png) // 1024} KiB)")
    return 0


def _parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="model name or bundle folder (default: default)")
    parser.add_argument("--samples", type=Path, default=None,
                        help="samples folder (default: the examples plus their joined clip)")
    parser.add_argument("--sample", default=None, help="the clip to choose, as the dropdown names it")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"PNG to write (default {DEFAULT_OUT})")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the Chromium binary")
    parser.add_argument("--width", type=int, default=1280, help="browser window width in pixels")
    return parser.parse_args(argv)


def _samples(args, scratch: Path) -> tuple[Path, str]:
    """The samples folder to serve and the clip to choose in it."""
    if args.samples is not None:
        folder = args.samples.resolve()
        names = [p.relative_to(folder).as_posix() for p in find_samples(folder)]
        if not names:
            raise SystemExit(f"no audio files in {folder}")
        return folder, args.sample or names[0]
    folder = scratch / "samples"
    folder.mkdir()
    clips = find_samples(DEFAULT_SAMPLES)
    for clip in clips:
        (folder / clip.name).write_bytes(clip.read_bytes())
    # A long clip whose mood changes every few seconds: what the timeline is for.
    joined = np.concatenate([load_audio(clip, sample_rate=16_000) for clip in clips])
    sf.write(str(folder / JOINED_NAME), joined, 16_000)
    return folder, args.sample or JOINED_NAME


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_demo(samples: Path, model: str, port: int, log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "serkit.cli", "demo", "--samples", str(samples),
               "--model", model, "--port", str(port), "--host", "127.0.0.1"]
    # Its own session, so that stopping it reaches Streamlit, its child, too.
    return subprocess.Popen(command, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True, env={**os.environ, "PYTHONPATH": _python_path()})


def _python_path() -> str:
    """This checkout first, so the demo runs the code beside this script."""
    return os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)


def _wait_until_healthy(port: int, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"serkit demo exited with status {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"serkit demo did not answer within {START_TIMEOUT_S} s:\n{log.read_text()}")


def _screenshot(url: str, sample: str, chromium: str, width: int) -> bytes:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(url)
            page.get_by_test_id("stSelectbox").wait_for(timeout=START_TIMEOUT_S * 1000)
            _choose(page, sample)
            page.get_by_role("button", name="Detect").click()
            page.get_by_text("Detected emotion").wait_for(timeout=RESULT_TIMEOUT_S * 1000)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(1500)  # Vega draws its charts after the data arrives
            # Streamlit scrolls inside its main block, not the document: grow the window to
            # the content so that the screenshot holds all of it.
            height = page.get_by_test_id("stMain").evaluate("main => main.scrollHeight")
            page.set_viewport_size({"width": width, "height": int(height)})
            page.wait_for_timeout(1000)
            return page.screenshot(full_page=True)
        finally:
            browser.close()


def _choose(page, sample: str) -> None:
    """Pick ``sample`` in the Streamlit dropdown (a custom widget, not a <select>)."""
    page.get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name=sample, exact=True).click()
    page.get_by_text(f"Detect will analyse the sample clip {sample}").wait_for()


def _stop(server: subprocess.Popen) -> None:
    """Ctrl+C for the demo's session (ours: it was started by this script), then wait."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


if __name__ == "__main__":
    raise SystemExit(main())
