"""The document demo: a crawl of real HTML pages from Debian documentation packages, run through the
packaged interleaved job (``jobs/configs/interleaved.yaml``).

:func:`.warc_build.demo_crawl` writes the pages found under the documentation folders below (with
their local images, e.g. valgrind's navigation icons, which recur on every page and so fall to the
frequent-image rule) plus the hostile pages into ``root/input/crawl/demo.warc.gz``. Documentation
pages carry few content images, so the demo keeps text-only documents (``doc_filter.min_images: 0``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmcurate.jobs.load import default_job_path, load_job
from mmcurate.jobs.run import run_job
from mmcurate.pipeline.documents.warc_build import demo_crawl

__all__ = ["run_docs_demo", "doc_dirs", "DOC_CANDIDATES"]

# Debian packages that ship HTML manuals; whichever are installed are used.
DOC_CANDIDATES = ("/usr/share/doc/valgrind/html", "/usr/share/doc/libxslt1-dev/html", "/usr/share/doc/libffi8/html",
                  "/usr/share/doc/libffi-dev/html", "/usr/share/doc/python3.11/html", "/usr/share/doc/python3/html")


def doc_dirs() -> list[Path]:
    return [Path(d) for d in DOC_CANDIDATES if Path(d).is_dir()]


def run_docs_demo(root: Path, address: str | None, progress: bool) -> dict[str, Any]:
    """Build the demo crawl under ``root/input/crawl`` (once) and run the interleaved job into
    ``root/output-docs``; returns the funnel."""
    crawl = Path(root) / "input" / "crawl" / "demo.warc.gz"
    if not crawl.exists():
        crawl.parent.mkdir(parents=True, exist_ok=True)
        dirs = doc_dirs()
        if not dirs:
            raise FileNotFoundError(f"no HTML documentation installed (looked in {', '.join(DOC_CANDIDATES)})")
        demo_crawl(crawl, dirs, max_pages=150)
    out = Path(root) / "output-docs"
    job = load_job(default_job_path("interleaved.yaml"), sets=["doc_filter.min_images=0"], inputs=[str(crawl)],
                   output=str(out))
    funnel = run_job(job, address=address, progress=progress, overwrite=True)
    print(f"\ndocs demo input:  {crawl}\ndocs demo output: {out} (parquet/, webdataset/, obelics/, rejects/)")
    return funnel
