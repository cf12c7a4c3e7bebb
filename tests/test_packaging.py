"""The package installs under ``mmcurate`` and never shadows HuggingFace's ``tokenizers``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _python(code: str, cwd: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env_code = f"import sys; sys.path.insert(0, {str(extra_path)!r}); " if extra_path else ""
    return subprocess.run([sys.executable, "-c", env_code + code], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_import_tokenizers_is_huggingface(tmp_path: Path) -> None:
    out = _python(
        "import tokenizers, mmcurate.tokenizers; "
        "print(tokenizers.__file__); print(hasattr(tokenizers, 'Tokenizer')); print(mmcurate.tokenizers.__name__)",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    path, has_tokenizer, ours = out.stdout.split()
    assert "site-packages" in path and not path.startswith(str(REPO / "tokenizers"))
    assert has_tokenizer == "True"
    assert ours == "mmcurate.tokenizers"


def test_repo_folder_imported_as_tokenizers_fails_fast(tmp_path: Path) -> None:
    out = _python("import tokenizers", cwd=tmp_path, extra_path=REPO)
    assert out.returncode != 0
    assert "shadowing" in out.stderr and "mmcurate.tokenizers" in out.stderr


def test_subpackages_map_under_mmcurate() -> None:
    import mmcurate.filters
    import mmcurate.jobs
    import mmcurate.pipeline
    import mmcurate.schemas

    for module, folder in ((mmcurate.pipeline, "pipeline"), (mmcurate.schemas, "schemas"),
                           (mmcurate.filters, "filters"), (mmcurate.jobs, "jobs")):
        assert Path(module.__file__).parent.name == folder


def test_default_job_config_ships_with_the_package() -> None:
    from mmcurate.jobs.load import default_job_path

    assert default_job_path().is_file() and default_job_path("demo.yaml").is_file()


def test_no_module_loosens_pillows_global_bomb_limit() -> None:
    import importlib
    import pkgutil

    from PIL import Image

    import mmcurate.pipeline

    default = Image.MAX_IMAGE_PIXELS
    for package in ("mmcurate.pipeline", "mmcurate.filters", "mmcurate.tokenizers", "mmcurate.jobs", "mmcurate.schemas"):
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}."):
            if info.name.endswith("__main__"):
                continue
            importlib.import_module(info.name)
    assert Image.MAX_IMAGE_PIXELS == default
    assert mmcurate.pipeline
