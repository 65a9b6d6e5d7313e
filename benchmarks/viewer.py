"""The viewer's speed and page sizes: the catalog page of a large catalog, 10,000 records paged.

``python -m benchmarks.viewer --catalog DIR [--records N] [--runs R] [--screenshots DIR]`` serves the
viewer on 127.0.0.1 and measures, per page: server time (HTTP GET until the last byte, first
request and median of R), the page size, and the browser's load time in headless Chromium
(navigation start to the load event, median of R). The records file holds N episodes built from
the catalog's own oracle traces (one instance each, then a submit), so records have real sizes.
With ``--screenshots DIR`` it also writes the README's screenshots (catalog, gym, episodes, plots)
as PNGs. Results go to bench-out/viewer.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx

from codegym_mcp.runtime import Catalog
from codegym_mcp.schemas import EpisodeRecord, StepRecord
from codegym_mcp.servers.viewer import parse_records_arg, running_viewer


def write_records(catalog: Path, path: Path, count: int) -> int:
    """``count`` records cycling over every gym's instances (their oracle traces); returns bytes written."""
    cat = Catalog(catalog)
    gyms = [cat.load(t) for t in cat.task_ids()]
    size = 0
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            gym = gyms[i % len(gyms)]
            inst = gym.instances[(i // len(gyms)) % len(gym.instances)]
            steps = [
                StepRecord(index=j, tool=c.tool, arguments=c.arguments, result=c.result, latency_ms=2.0)
                for j, c in enumerate(inst.oracle_trace)
            ]
            line = EpisodeRecord(
                episode_id=f"bench{i}",
                task_id=gym.task_id,
                instance_id=inst.instance_id,
                started_at=1.7e9 + i,
                ended_at=1.7e9 + i + 0.5,
                steps=steps,
                submission=inst.expected,
                expected=inst.expected,
                reward=1 if i % 4 else 0,
                end_reason="submitted",
            ).model_dump_json()
            size += out.write(line + "\n")
    return size


def _server(client: httpx.Client, url: str, runs: int) -> dict[str, float]:
    started = time.perf_counter()
    first = client.get(url)
    cold = time.perf_counter() - started
    first.raise_for_status()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(url).raise_for_status()
        times.append(time.perf_counter() - started)
    return {"first_s": cold, "median_s": statistics.median(times), "bytes": len(first.content)}


def _browser(driver: Any, url: str, runs: int) -> float:
    loads = []
    for _ in range(runs):
        driver.get(url)
        timing = driver.execute_script(
            "const t = performance.getEntriesByType('navigation')[0]; return t.loadEventEnd - t.startTime;"
        )
        loads.append(float(timing) / 1000)
    return statistics.median(loads)


def _driver(width: int, height: int) -> Any:
    import os
    import shutil

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "chromedriver"))


def _screenshots(catalog: Path, records: list[tuple[str, Path]], folder: Path) -> None:
    """The README's screenshots: catalog (by mean oracle steps), a gym, episodes, plots."""
    folder.mkdir(parents=True, exist_ok=True)
    first_task = Catalog(catalog).task_ids()[0]
    driver = _driver(1000, 600)
    metrics = {"width": 1000, "height": 620, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        with running_viewer(catalog, records) as base:
            for name, url in (
                ("catalog", "/?sort=steps_mean&order=desc"),
                ("gym", f"/gym/{first_task}"),
                ("episodes", "/episodes?per=20"),
                ("plots", "/plots"),
            ):
                driver.get(base + url)
                driver.save_screenshot(str(folder / f"viewer-{name}.png"))
    finally:
        driver.quit()


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--catalog", type=Path, required=True, help="a generated catalog (e.g. HumanEval)")
    parser.add_argument(
        "--records", type=int, default=10_000, help="episode records to page (default 10,000)"
    )
    parser.add_argument("--runs", type=int, default=5, help="repetitions per measurement (default 5)")
    parser.add_argument("--screenshots", type=Path, help="write README screenshots (PNG) into this folder")
    parser.add_argument(
        "--screenshot-records",
        nargs="+",
        default=[],
        metavar="LABEL=FILE",
        help="records the screenshots show (default: the benchmark's synthetic ones)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-out/viewer.json"))
    return parser.parse_args(argv)


def _measure(catalog: Path, records: Path, count: int, runs: int) -> dict[str, Any]:
    """Server and browser figures of every page (see the module docstring)."""
    first_task = Catalog(catalog).task_ids()[0]
    last = -(-count // 200)
    pages = {
        "catalog": "/",
        "plots": "/plots",
        "gym": f"/gym/{first_task}",
        "instance": f"/gym/{first_task}/instance/0",
        "episodes page 1": "/episodes",
        "episodes last page (200 per page)": f"/episodes?per=200&page={last}",
        "episode": "/episode/0/1",
    }
    result: dict[str, Any] = {"pages": {}}
    started = time.perf_counter()
    with running_viewer(catalog, [("oracle-traces", records)]) as base, httpx.Client(timeout=600) as http:
        # the records are indexed by a thread from start-up: the first episodes page waits for it
        http.get(base + "/episodes").raise_for_status()
        result["startup_and_index_s"] = round(time.perf_counter() - started, 3)
        for name, url in pages.items():
            result["pages"][name] = _server(http, base + url, runs)
        sizes = [len(http.get(f"{base}/episodes?per=200&page={p}").content) for p in range(1, last + 1)]
        result["largest_episodes_page_bytes"] = max(sizes)
        driver = _driver(1280, 800)
        try:
            for name, url in pages.items():
                result["pages"][name]["browser_load_s"] = _browser(driver, base + url, runs)
        finally:
            driver.quit()
    return result


def _cold_catalog(catalog: Path) -> dict[str, float]:
    """The catalog page as first opened: a fresh viewer (no records), its first request, its first load."""
    started = time.perf_counter()
    with running_viewer(catalog, []) as base, httpx.Client(timeout=600) as http:
        ready = time.perf_counter()
        http.get(base + "/").raise_for_status()
        server = time.perf_counter() - ready
    start_s = ready - started
    driver = _driver(1280, 800)
    try:
        with running_viewer(catalog, []) as base:
            browser = _browser(driver, base + "/", 1)
    finally:
        driver.quit()
    return {"startup_s": start_s, "first_request_s": server, "first_browser_load_s": browser}


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    with tempfile.TemporaryDirectory() as tmp:
        records = Path(tmp) / "bench.jsonl"
        started = time.perf_counter()
        size = write_records(args.catalog, records, args.records)
        print(
            f"wrote {args.records:,} records ({size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s"
        )
        result = {"catalog": str(args.catalog), "records": args.records, "records_mb": round(size / 1e6, 1)}
        result |= {"runs": args.runs, "catalog_cold": _cold_catalog(args.catalog)}
        result |= _measure(args.catalog, records, args.records, args.runs)
        if args.screenshots:
            shown = [parse_records_arg(v) for v in args.screenshot_records] or [("oracle-traces", records)]
            _screenshots(args.catalog, shown, args.screenshots)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        f"start-up + indexing the records: {result['startup_and_index_s']:.2f} s; "
        f"largest episodes page: {result['largest_episodes_page_bytes']:,} bytes"
    )
    cold = result["catalog_cold"]
    print(
        f"catalog page, fresh viewer: start-up {cold['startup_s']:.2f} s, first request "
        f"{cold['first_request_s'] * 1000:.0f} ms, first browser load {cold['first_browser_load_s'] * 1000:.0f} ms"
    )
    print(f"{'page':36} {'server first':>12} {'server med':>10} {'browser med':>11} {'bytes':>10}")
    for name, fig in result["pages"].items():
        print(
            f"{name:36} {fig['first_s'] * 1000:10.1f}ms {fig['median_s'] * 1000:8.1f}ms "
            f"{fig['browser_load_s'] * 1000:9.1f}ms {fig['bytes']:>10,}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
