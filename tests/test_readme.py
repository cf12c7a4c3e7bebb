"""Every command and snippet in README.md runs as printed (issue 16, item 6).

README.md's fenced blocks are parsed, not copied: every ```python block is executed as written, and
every ``mmcurate ...`` line of a ```bash block is run with the venv's ``mmcurate``, in a temporary folder
prepared with the files the README names (``job.yaml`` is the README's own ```yaml block, verbatim).
The only substitutions, all documented here:

- ``mmcurate`` is the venv's script (the README's quick start runs ``.venv/bin/mmcurate``);
- an optional ``[...]`` part is run without it, and with it too when it is literal (``[--json]``);
- the placeholders ``DIR`` / ``OUT`` of the audio section are folders with those very names;
- the working folder holds what a command names: ``photos/`` (generated scenes and broken files),
  ``pairs.parquet`` (image bytes plus two URL-only rows the SSRF guard / scheme check reject: no network),
  ``cat.jpg``, ``DIR/`` (espeak-ng speech and a tone, captions beside them) and ``jobs/configs/`` (the
  packaged jobs, as in the checkout the README runs from);
- commands that read ``out/`` (and the Python snippets) run after ``mmcurate run job.yaml``, the README's
  first job; other ``mmcurate run`` lines each get a fresh copy of the inputs.

Each ``mmcurate run`` starts its own local Ray, as a user's does (the job's ``ray: {address: null}``).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
MMCURATE = str(Path(sys.executable).parent / "mmcurate")
TIMEOUT_S = 600

# Commands not run here, each with its reason. Keep it short: a README command belongs here only when a
# test cannot run it at all.
EXEMPT = {
    "bash .ci/setup.sh && .venv/bin/mmcurate demo":
        "installs Debian packages and torch (root, network); the demo takes minutes: "
        "tests/jobs/test_demo_inputs.py and tests/test_end_to_end.py run its inputs and job",
    "mmcurate run job.yaml --address ray://head:10001":
        "needs a Ray cluster at ray://head:10001; tests/test_cluster.py runs a job through --address",
    "mmcurate run --input s3://raw/photos --output s3://curated/run1":
        "needs the user's bucket; tests/pipeline/readers/test_remote_inputs.py runs inputs and outputs on a real S3 "
        "server (SeaweedFS on 127.0.0.1)",
    "mmcurate run job.yaml --input s3://raw/pairs.parquet --output s3://curated/pairs":
        "needs the user's bucket; tests/pipeline/readers/test_remote_inputs.py reads a Parquet table from S3",
    "mmcurate train-vqvae --builtin-data /tmp/vq_data --out tokenizers/assets/vqvae_small --codebook-size 512 "
    "--steps 3000 --batch-size 32 --threads 1 --fp16 --eval-every 500":
        "17 minutes of training that overwrites the shipped tokenizer; tests/tokenizers/vqvae cover it",
}
# Exit codes the README documents beside the command (0 otherwise).
EXIT_CODES = {"mmcurate run job.yaml --fail-under-accepted 0.5": 1}  # job.yaml keeps the top 30 % by CLIP
FIRST_JOB = "mmcurate run job.yaml"
# `mmcurate run` lines that are reruns of the first job over its finished out/ (the README's resume path).
RERUNS = {"mmcurate run job.yaml --fail-under-accepted 0.5"}
# What a command must print on these inputs, so a filter that matches nothing cannot pass unnoticed.
PRINTS = {"mmcurate inspect out/ -n 5 --reason image_decode_v1 --where width > 512 and caption_len < 20":
          "image_decode_v1:too_small"}  # pairs.parquet's 600x40 strip


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)


def _variants(line: str) -> list[str]:
    """``cmd [--json]`` -> ``cmd`` and ``cmd --json``; ``cmd [--set ...]`` -> ``cmd`` only."""
    match = re.search(r"\s*\[([^\]]*)\]", line)
    if not match:
        return [line]
    without = line[:match.start()] + line[match.end():]
    variants = _variants(without)
    if "..." not in match.group(1):
        variants += _variants(line[:match.start()] + " " + match.group(1) + line[match.end():])
    return variants


def readme_commands() -> dict[str, list[str]]:
    """Every mmcurate command line of the README's ```bash blocks (comments stripped, continuations joined),
    as the line reads -> its words."""
    commands: dict[str, list[str]] = {}
    for block in _blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            for variant in _variants(line):
                words = shlex.split(variant, comments=True)
                if any(w == "mmcurate" or w.endswith("/mmcurate") for w in words):
                    commands[" ".join(words)] = words
    return commands


def _write_inputs(root: Path) -> None:
    """The files the README's commands and snippets name, small enough for a test."""
    import io
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    from mmcurate.jobs.load import default_job_path
    from mmcurate.pipeline.generate import audio
    from mmcurate.pipeline.generate.demo_folder import make_demo_folder

    photos = root / "photos"
    make_demo_folder(photos, n_scenes=6, n_crops=1, n_duplicates=1, with_video=False)
    rows = []
    for image in sorted(photos.glob("scene_*")) + sorted(photos.glob("photo_*")):
        if image.suffix in (".txt", ".json"):
            continue
        side = image.with_suffix(".txt")
        caption = side.read_text() if side.exists() else json.loads(image.with_suffix(".json").read_text())["caption"]
        rows.append({"url": f"https://example.com/{image.name}", "caption": caption, "image": image.read_bytes()})
    strip = io.BytesIO()
    Image.new("RGB", (600, 40), "gray").save(strip, "JPEG")  # an image_decode_v1 reject with width > 512
    rows += [{"url": "https://example.com/strip.jpg", "caption": "a thin gray strip", "image": strip.getvalue()},
             {"url": "http://127.0.0.1:9/cat.jpg", "caption": "a cat on a mat", "image": None},
             {"url": "ftp://example.com/dog.jpg", "caption": "a dog in the park", "image": None}]
    pq.write_table(pa.Table.from_pylist(rows), root / "pairs.parquet")
    (root / "job.yaml").write_text(_blocks("yaml")[0])
    Image.open(photos / "photo_0000.jpg").convert("RGB").save(root / "cat.jpg")
    sounds = root / "DIR"
    sounds.mkdir()
    said = "the quick brown fox jumps over the lazy dog"
    speech, rate = audio.speech(said)
    (sounds / "speech.wav").write_bytes(audio.encode(speech, rate))
    (sounds / "speech.txt").write_text(said)
    (sounds / "tone.wav").write_bytes(audio.encode(audio.tone(2.0), 16000))
    (sounds / "tone.txt").write_text("a steady tone")
    configs = root / "jobs" / "configs"
    configs.mkdir(parents=True)
    for name in ("image_text.yaml", "audio.yaml", "interleaved.yaml", "demo.yaml"):
        shutil.copyfile(default_job_path(name), configs / name)


def _run(command: str, cwd: Path) -> subprocess.CompletedProcess:
    words = readme_commands()[command]
    return subprocess.run([MMCURATE, *words[1:]], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT_S)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (.ci/setup.sh installs it)")
    root = tmp_path_factory.mktemp("readme_inputs")
    _write_inputs(root)
    return root


@pytest.fixture(scope="module")
def finished(inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """A working folder after the README's first job (``mmcurate run job.yaml``) wrote ``out/``."""
    work = tmp_path_factory.mktemp("readme_finished") / "work"
    shutil.copytree(inputs, work)
    return work, _run(FIRST_JOB, work)


def _fresh(inputs: Path, tmp_path: Path) -> Path:
    work = tmp_path / "work"
    shutil.copytree(inputs, work)
    return work


def test_the_readme_has_the_commands_and_snippets_this_file_runs() -> None:
    commands = readme_commands()
    assert FIRST_JOB in commands and "mmcurate steps --json" in commands and "mmcurate --version" in commands
    assert len(commands) >= 14 and len(_blocks("python")) >= 4 and len(_blocks("yaml")) == 1
    for command in [*EXEMPT, *EXIT_CODES, *RERUNS, *PRINTS]:
        assert command in commands, f"stale entry, no longer in README.md: {command}"


@pytest.mark.parametrize("command", [c for c in readme_commands() if c not in EXEMPT])
def test_readme_command_runs_as_printed(command: str, inputs: Path, finished: tuple[Path, subprocess.CompletedProcess],
                                        tmp_path: Path) -> None:
    work, first = finished
    if command == FIRST_JOB:
        result = first
    elif command.startswith("mmcurate run") and command not in RERUNS:
        result = _run(command, _fresh(inputs, tmp_path))
    else:  # reads out/ (stats, inspect, export), reruns the finished job, or touches no data
        assert first.returncode == 0, first.stderr[-3000:]
        result = _run(command, work)
    assert result.returncode == EXIT_CODES.get(command, 0), (result.stdout[-3000:], result.stderr[-3000:])
    assert PRINTS.get(command, "") in result.stdout, result.stdout[-3000:]
    if command == FIRST_JOB:
        assert (work / "out" / "arrow" / "u00-000000-0000.arrow").is_file()  # the shard the snippets open


# Runs one snippet as a script, statement by statement, so that an expression whose trailing comment is a
# Python literal (`... ["drop_reason"]  # 'word_count_v1:too_few_words'`) is checked against it; then
# consumes what the snippet left lazy (Ray Datasets, WebDataset pipelines), so their stages really run.
SNIPPET_RUNNER = r"""
import ast, io, sys, tokenize
src = open(sys.argv[1], encoding="utf-8").read()
comments = {t.start[0]: t.string[1:].strip() for t in tokenize.generate_tokens(io.StringIO(src).readline)
            if t.type == tokenize.COMMENT}
ns = {"__name__": "__main__"}
for node in ast.parse(src).body:
    if not isinstance(node, ast.Expr):
        exec(compile(ast.Module([node], []), "README.md", "exec"), ns)
        continue
    value = eval(compile(ast.Expression(node.value), "README.md", "eval"), ns)
    try:
        expected = ast.literal_eval(comments.get(node.end_lineno, ""))
    except (ValueError, SyntaxError):
        continue
    assert value == expected, (ast.get_source_segment(src, node), value, expected)
for name, value in list(ns.items()):
    if "ray" in sys.modules and isinstance(value, sys.modules["ray"].data.Dataset):
        assert value.take_all(), name
    elif type(value).__module__.startswith("webdataset"):
        next(iter(value))
"""


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_readme_python_snippet_runs_as_printed(index: int, finished: tuple[Path, subprocess.CompletedProcess],
                                               tmp_path: Path) -> None:
    work, first = finished
    assert first.returncode == 0, first.stderr[-3000:]
    snippet = tmp_path / f"readme_snippet_{index}.py"
    snippet.write_text(_blocks("python")[index], encoding="utf-8")
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_DATASETS_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", SNIPPET_RUNNER, str(snippet)], cwd=work, capture_output=True,
                            text=True, timeout=TIMEOUT_S, env=env)
    assert result.returncode == 0, result.stderr[-4000:]
