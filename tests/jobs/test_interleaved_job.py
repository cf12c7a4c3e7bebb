"""The packaged interleaved job from the command line: a small crawl (pages, their images stored in the
WARC, hostile pages) -> near-duplicate pages and a shared logo removed across the whole input -> node and
document filters -> tokens -> shards and OBELICS Parquet that HF datasets reads; Ray == in process."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from e2e_support import folder_digest
from PIL import Image

from mmcurate.jobs.cli import main
from mmcurate.jobs.load import default_job_path
from mmcurate.pipeline.documents.warc_build import hostile_pages, write_warc

SITE = "http://site.test/"
N_PAGES = 12  # the logo is on every page: in more than 10 documents, so it is frequent
TOPICS = ["river", "bridge", "harbour", "castle", "garden", "market", "station", "library", "museum", "tower",
          "forest", "valley", "island", "canal"]


def png(width: int, height: int, color: tuple[int, int, int], fmt: str = "PNG") -> bytes:
    """A picture of its own: noise seeded by ``color`` over that colour (flat images share one pHash)."""
    rng = np.random.default_rng(sum(c << (8 * i) for i, c in enumerate(color)))
    pixels = np.clip(np.array(color) + rng.normal(0, 60, (height, width, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, fmt)
    return buf.getvalue()


def paragraph(topic: str, i: int) -> str:
    return (f"The {topic} of the old town number {i} was rebuilt after the flood, and the people who lived "
            f"near the {topic} still tell their children how the water rose in the night of year {1900 + i}.")


# Copies under other URLs, placed as an extra image on a later page: the same bytes (p7 shows p4's photo)
# and a JPEG re-encode (p5 shows p2's photo). doc_image_dedup keeps the first copy in input order.
COPIES = {7: ("img/copy_of_4.png", 4, "PNG"), 5: ("img/copy_of_2.jpg", 2, "JPEG")}


def photo(i: int, fmt: str = "PNG") -> bytes:
    return png(320, 240, (10 * i, 100, 200), fmt)


def page(i: int, *, private_image: bool = False) -> bytes:
    topic = TOPICS[i]
    extra = '<img src="http://10.1.2.3/internal.png">' if private_image else ""
    if i in COPIES:
        extra += f"<img src='/{COPIES[i][0]}' alt='another view'>"
    return (f"<html><head><title>{topic}</title></head><body><nav><a href='/'>Home</a></nav><article>"
            f"<p>{paragraph(topic, i)}</p><img src='/logo.png' alt='site logo'><p>{paragraph(topic, i + 50)}</p>"
            f"<img src='/img/photo{i}.png' alt='the {topic}'>{extra}<p>{paragraph(topic, i + 90)}</p>"
            f"</article><footer>(c) site</footer></body></html>").encode()


def make_crawl(path: Path) -> Path:
    records = [(SITE + "logo.png", png(200, 200, (200, 30, 30)), "image/png")]
    records += [(f"{SITE}img/photo{i}.png", photo(i), "image/png") for i in range(N_PAGES)]
    records += [(SITE + name, photo(of, fmt), f"image/{fmt.lower()}") for name, of, fmt in COPIES.values()]
    records += [(f"{SITE}p{i}.html", page(i, private_image=i == 3), "text/html") for i in range(N_PAGES)]
    records.append((SITE + "mirror/p0.html", page(0), "text/html"))  # a mirror of p0: a near-duplicate page
    return write_warc(path, records + hostile_pages())


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_crawl(tmp_path_factory.mktemp("crawl") / "crawl.warc.gz")


def run(crawl: Path, out: Path, *engine: str, job: Path | None = None) -> None:
    job = job or default_job_path("interleaved.yaml")
    assert main(["run", str(job), "--input", str(crawl), "--output", str(out), "--no-progress", *engine]) == 0


def rows_by_url(folder: Path) -> dict[str, dict]:
    return {r["url"]: r for r in pq.read_table(folder).to_pylist()}


def test_interleaved_job_on_ray_gives_the_bytes_of_a_local_run(crawl: Path, tmp_path: Path,
                                                                  ray_session: str) -> None:
    run(crawl, tmp_path / "local", "--local")
    run(crawl, tmp_path / "ray", "--address", ray_session)
    assert folder_digest(tmp_path / "local") == folder_digest(tmp_path / "ray")
    assert any((tmp_path / "ray" / "obelics").glob("*.parquet"))
    assert pq.read_table(tmp_path / "ray" / "rejects").num_rows == 7  # 1 duplicate page, 6 hostile pages


def test_interleaved_job_from_the_command_line(crawl: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(crawl, out, "--local")
    assert json.loads((out / "job.json").read_text())["inputs"][0]["kind"] == "warc"

    accepted = rows_by_url(out / "parquet")
    rejects = {r["url"]: r for r in pq.read_table(out / "rejects").to_pylist()}
    # Reading order: paragraph, logo (removed as frequent, reason kept), paragraph, photo, paragraph.
    p1 = accepted[SITE + "p1.html"]["doc_nodes"]
    assert [n["kind"] for n in p1] == ["text", "image", "text", "image", "text"]
    assert p1[0]["text"].startswith("The bridge of the old town number 1")
    assert p1[1]["url"] == SITE + "logo.png" and p1[1]["removed"] == "doc_frequent_images_v1:frequent_image"
    assert p1[3]["url"] == SITE + "img/photo1.png" and p1[3]["removed"] is None
    assert all(accepted[f"{SITE}p{i}.html"]["doc_frequent_images_v1_removed"] == 1 for i in range(1, N_PAGES))
    # The private-address image is blocked by the SSRF guard; its page stays with the photo.
    blocked = [n for n in accepted[SITE + "p3.html"]["doc_nodes"] if n["url"] == "http://10.1.2.3/internal.png"]
    assert blocked[0]["removed"].startswith("doc_images_v1:")
    # One of p0 and its mirror is a near-duplicate page.
    pair = [rejects.get(SITE + "p0.html"), rejects.get(SITE + "mirror/p0.html")]
    assert [r["reason"] for r in pair if r] == ["dedup_v1:minhash_v1"]
    # Hostile pages: each its own reason, nothing else affected.
    assert rejects["http://hostile.test/deep.html"]["reason"] == "warc_reader_v1:too_deep"
    assert rejects["http://hostile.test/boiler.html"]["reason"] == "warc_reader_v1:no_content"
    # The other hostile pages are read (charset honoured, 10,000+ images capped, javascript: refused) and
    # then judged: text-only pages fail doc_filter's image minimum; js.html repeats many.html's text.
    hostile = {n: rejects[f"http://hostile.test/{n}.html"]["reason"] for n in ("many", "latin1", "broken", "js")}
    assert set(hostile.values()) == {"doc_v1:too_few_images", "dedup_v1:minhash_v1"}
    assert sum(r == "dedup_v1:minhash_v1" for r in hostile.values()) == 1
    assert len(accepted) == N_PAGES  # the pages and the mirror, less one of the near-duplicate pair
    spans = accepted[SITE + "p1.html"]["doc_tokens_v1_spans"]
    assert [s["modality"] for s in spans] == ["text", "text", "image", "text"]  # the logo has no tokens

    import datasets

    ds = datasets.load_dataset("parquet", data_files=str(out / "obelics" / "*.parquet"), split="train",
                               cache_dir=str(tmp_path / "hf"))
    assert len(ds) == N_PAGES
    doc = next(d for d in ds if json.loads(d["general_metadata"])["url"] == SITE + "p1.html")
    assert doc["images"] == [None, None, SITE + "img/photo1.png", None]  # the logo is gone, order kept
    assert doc["texts"][0].startswith("The bridge") and doc["image_bytes"][2] == photo(1)

    # doc_clip scored each kept photo against its neighbouring paragraphs (score only in the packaged job).
    assert p1[3]["removed"] is None and -1 <= accepted[SITE + "p1.html"]["doc_clip_v1_scores"][3] <= 1
    assert accepted[SITE + "p1.html"]["doc_clip_v1_assigned"][3] in (2, 4)
    check_image_copies(accepted)
    check_stats(out, accepted)
    check_webdataset(out, accepted[SITE + "p1.html"])


def test_documents_are_their_own_modality_and_pack_as_their_windows(crawl: Path, tmp_path: Path) -> None:
    # Small windows, so every page is cut at node boundaries into several.
    out = tmp_path / "out"
    run(crawl, out, "--local", "--set", "doc_tokens.context=128", "--set", "pack.context=256")
    accepted = {r["sample_id"]: r for r in pq.read_table(out / "parquet").to_pylist()}
    for row in accepted.values():
        assert row["modality"] == "document"
        assert row["tokens_total"] == row["doc_tokens_v1_text"] + row["doc_tokens_v1_image"] == len(
            row["doc_tokens_v1_ids"])
    report = json.loads((out / "mixture" / "report.json").read_text())["budget"]
    share = next(r for r in report if r["level"] == "modality" and r["key"] == "document")
    assert share["achieved_share"] == pytest.approx(1.0)
    packs = pq.read_table(next((out / "mixture").glob("packs-*.parquet"))).to_pylist()
    placed: dict[str, dict[int, int]] = {}
    for pack in packs:
        assert pack["tokens"] <= 256
        for sample_id, piece, length in zip(pack["sample_ids"], pack["pieces"], pack["lengths"]):
            assert piece not in placed.setdefault(sample_id, {})  # each window once
            placed[sample_id][piece] = length
    assert set(placed) == set(accepted)
    for sample_id, row in accepted.items():
        wins = row["doc_tokens_v1_windows"]
        assert len(wins) >= 2 and all(w["end"] - w["start"] <= 128 for w in wins)
        assert placed[sample_id] == {i: w["end"] - w["start"] for i, w in enumerate(wins)}


def test_token_records_of_documents_follow_reading_order(crawl: Path, tmp_path: Path) -> None:
    from mmcurate.jobs.yaml_safe import load_yaml
    from mmcurate.tokenizers.text import default_text_tokenizer

    job = load_yaml(default_job_path("interleaved.yaml"))
    at = next(i for i, s in enumerate(job["steps"]) if s["use"] == "doc_tokens")
    job["steps"][at + 1:at + 1] = [{"use": "vq_tokenize"}]
    job["steps"].append({"use": "token_records"})
    (tmp_path / "job.yaml").write_text(json.dumps(job))
    out = tmp_path / "out"
    run(crawl, out, "--local", job=tmp_path / "job.yaml")
    accepted = rows_by_url(out / "parquet")
    records = {r["sample_id"]: r for f in sorted((out / "tokens").glob("*.parquet")) for r in pq.read_table(f).to_pylist()}
    layout = json.loads((out / "tokens" / "manifest.json").read_text())["layout"]
    tokenizer = default_text_tokenizer()
    assert set(records) == {r["sample_id"] for r in accepted.values()}
    for row in accepted.values():
        rec = records[row["sample_id"]]
        live = [n for n in row["doc_nodes"] if n["removed"] is None and (n["kind"] == "text" or n["media_index"] is not None)]
        assert [s["modality"] for s in rec["spans"]] == [n["kind"] for n in live]  # reading order, logo gone
        ids = rec["input_ids"]
        for node, span in zip(live, rec["spans"]):
            got = ids[span["start"]:span["start"] + span["length"]]
            if node["kind"] == "text":
                assert got == tokenizer.encode(node["text"], add_special_tokens=False).ids
            else:
                assert span["media_index"] == node["media_index"]
                assert got == [layout["image_offset"] + c for c in row["vq_codes"][node["media_index"]]]
        assert rec["n_tokens"] == len(ids) and ids[-1] == layout["special_ids"]["eos"]
    assert sum(r["n_image"] > 0 for r in records.values()) == len(records)  # every page keeps its photo's codes


def check_image_copies(accepted: dict[str, dict]) -> None:
    """The same picture under another URL, in a later document: its node removed, the kept copy named."""
    for i, (name, of, fmt) in COPIES.items():
        doc, original = accepted[f"{SITE}p{i}.html"], accepted[f"{SITE}p{of}.html"]
        copy = next(k for k, n in enumerate(doc["doc_nodes"]) if n["url"] == SITE + name)
        kept = next(k for k, n in enumerate(original["doc_nodes"]) if n["url"] == f"{SITE}img/photo{of}.png")
        assert doc["doc_nodes"][copy]["removed"] == "doc_image_dedup_v1:duplicate_image"
        assert original["doc_nodes"][kept]["removed"] is None
        (dup,) = doc["doc_image_dedup_v1_duplicates"]
        assert (dup["node"], dup["duplicate_of"], dup["duplicate_of_node"]) == (copy, original["sample_id"], kept)
        assert dup["distance"] == 0 if fmt == "PNG" else 0 <= dup["distance"] <= 4
        assert not any(n["removed"] for n in doc["doc_nodes"] if n["url"] == f"{SITE}img/photo{i}.png")
    # No other image is anyone's copy.
    assert sum(len(r["doc_image_dedup_v1_duplicates"] or []) for r in accepted.values()) == len(COPIES)


def check_stats(out: Path, accepted: dict[str, dict]) -> None:
    """The stats report's Documents section: images and words per document, image-text similarity."""
    from mmcurate.jobs.stats.aggregate import aggregate
    from mmcurate.jobs.stats.layout import OutputFolder
    from mmcurate.jobs.stats.report import SECTIONS

    dists = {d.metric.key: d for d in aggregate(OutputFolder.open(out), progress=False).distributions}
    live = [[n for n in r["doc_nodes"] if n["removed"] is None] for r in accepted.values()]
    images = [sum(n["kind"] == "image" for n in doc) for doc in live]
    words = [sum(len(n["text"].split()) for n in doc if n["kind"] == "text") for doc in live]
    sims = [s for r in accepted.values() for s in r["doc_clip_v1_scores"] if s is not None]
    assert "documents" in SECTIONS
    for key, values in (("doc_images", images), ("doc_words", words), ("doc_clip_similarity", sims)):
        d = dists[key]
        assert d.metric.group == "documents" and sum(d.hist.counts) == d.range.count == len(values)
        assert (d.range.lo, d.range.hi) == pytest.approx((min(values), max(values)))


def check_webdataset(out: Path, row: dict) -> None:
    """One WebDataset sample per document: its node order in the JSON, its images as members."""
    import tarfile

    key = row["sample_id"]
    for tar_path in sorted((out / "webdataset").glob("*.tar")):
        with tarfile.open(tar_path) as tar:
            members = {m.name: m for m in tar.getmembers() if m.name.startswith(key + ".")}
            if not members:
                continue
            order = json.loads(tar.extractfile(members[key + ".json"]).read())["nodes"]
            assert [n["kind"] for n in order] == ["text", "text", "image", "text"]  # the logo is gone
            image = tar.extractfile(members[f"{key}.{order[2]['member']}"]).read()
            assert image == row["media"][0]["bytes"]
            return
    raise AssertionError(f"{key} is in no WebDataset shard")
