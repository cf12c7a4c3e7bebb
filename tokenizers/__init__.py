"""mmcurate.tokenizers — patch-token counts and discrete (VQ) image tokenizers.

Installed as ``mmcurate.tokenizers``. Imported under the bare name ``tokenizers`` (the repo root on
``sys.path``), this folder would shadow HuggingFace's ``tokenizers`` package and break transformers in
confusing ways, so it refuses loudly instead.
"""

if __name__ == "tokenizers":  # pragma: no cover - exercised by a subprocess test
    raise ImportError(
        "the repository's tokenizers/ folder was imported as top-level 'tokenizers', shadowing "
        "HuggingFace's package: install mmcurate (pip install -e .) and import mmcurate.tokenizers; "
        "run tools without the repo root on sys.path (use `pytest`, not `python -m pytest`, or set "
        "PYTHONSAFEPATH=1)"
    )

__all__: list[str] = []
