"""Make the README's screenshots: both reports on the synthetic demo fleet and on the shared corpus
(`../shared/corpus`), each page opened in headless Chromium and saved as PNG in
docs/screenshots/.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--as-of 2026-12-01]

Needs `chromium` on PATH (scripts/system-deps.sh installs it).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
PAGES = {"compliance": 2600, "staleness": 2600}
"""Report -> the height of the window shot (px): the headline and the first sections."""


def _auditlib(*args: str, ok: tuple[int, ...] = (0,)) -> None:
    done = subprocess.run([sys.executable, "-m", "auditlib.cli", *args],
                          stdout=subprocess.DEVNULL, check=False)
    if done.returncode not in ok:
        raise SystemExit(f"auditlib {args[0]} exited {done.returncode}")


def _shoot(page: Path, png: Path, height: int) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not on PATH (scripts/system-deps.sh installs it)")
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--virtual-time-budget=10000", f"--window-size=1280,{height}",
                    f"--screenshot={png}", page.as_uri()],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=180)
    print(f"{png} ({png.stat().st_size / 1e3:.0f} kB)")


def main() -> None:
    """Render the four pages and shoot them."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    ap.add_argument("--as-of", default="2026-12-01")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="auditlib-shots-") as tmp:
        work = Path(tmp)
        _auditlib("demo", "--images", "50", "--out", str(work / "demo"), "--store",
                  str(work / "demo" / "demo-store"))
        # The corpus holds malformed files on purpose: ingest says so and exits 2.
        store = work / "corpus-store"
        _auditlib("ingest", str(CORPUS), "--store", str(store), "--quiet", ok=(0, 2))
        _auditlib("report", "all", "--store", str(store), "--out", str(work / "corpus"),
                  "--as-of", args.as_of, "--quiet")
        for name in ("demo", "corpus"):  # the demo's own pages (its policy), the corpus's
            (run,) = (work / name).glob("run-*")
            for page, height in PAGES.items():
                _shoot(run / f"{page}.html", args.out / f"{page}-{name}.png", height)


if __name__ == "__main__":
    main()
