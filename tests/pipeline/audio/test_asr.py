"""ASR through a real HTTP server on 127.0.0.1 speaking the /v1/audio/transcriptions protocol."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import pytest

from mmcurate.pipeline.audio.asr_stage import AudioTranscribe, word_error_rate
from mmcurate.pipeline.audio.decode_stage import AudioDecode
from mmcurate.pipeline.generate import audio as g
from mmcurate.pipeline.runner import run_stages
from mmcurate.schemas.sample import sample_schema
from mmcurate.schemas.table import to_table


class _Server(ThreadingHTTPServer):
    requests: list[dict]
    fail_first: int


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        server: _Server = self.server  # type: ignore[assignment]
        body = self.rfile.read(int(self.headers["Content-Length"]))
        msg = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body)
        fields = {p.get_param("name", header="content-disposition"): p.get_payload(decode=True) for p in msg.iter_parts()}
        server.requests.append({"path": self.path, **{k: v for k, v in fields.items() if k != "file"}})
        if server.fail_first > 0:
            server.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        with av.open(io.BytesIO(fields["file"])) as c:  # a real FLAC arrives: say what it holds
            s = c.streams.audio[0]
            text = f"{s.codec_context.name} {s.rate} hz {float(c.duration / 1e6):.1f} seconds"
        out = json.dumps({"text": text}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


@pytest.fixture()
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.requests, srv.fail_first = [], 1
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_transcribe_retries_then_caches(server: _Server, tmp_path: Path) -> None:
    rows = [{"sample_id": "a", "source": "t", "locator": "0", "unit_id": "u", "unit_index": 0, "unit_rows": 1,
             "status": "ok", "caption": None,
             "media": [{"bytes": g.encode(g.tone(2.0, 44100), 44100, "mp3"), "kind": "audio", "mime": None}]}]
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    stages = [AudioDecode(), AudioTranscribe(base_url=url, model="whisper-tiny", language="en", backoff_s=0.01,
                                             cache_dir=str(tmp_path))]
    table = to_table(rows, sample_schema([f for s in stages for f in s.writes]))
    first = run_stages(stages, table).to_pylist()[0]
    assert first["audio_asr_v1_text"] == "flac 16000 hz 2.0 seconds" and first["audio_asr_v1_cached"] is False
    assert len(server.requests) == 2  # one 503, one retry
    assert server.requests[-1] == {"path": "/v1/audio/transcriptions", "model": b"whisper-tiny",
                                   "response_format": b"json", "temperature": b"0.0", "language": b"en"}
    again = run_stages(stages, table).to_pylist()[0]
    assert again["audio_asr_v1_cached"] is True and len(server.requests) == 2


def test_a_dead_endpoint_rejects_with_its_reason() -> None:
    stage = AudioTranscribe(base_url="http://127.0.0.1:9/v1", max_retries=0)
    rows = [{"sample_id": "a", "source": "t", "locator": "0", "unit_id": "u", "unit_index": 0, "unit_rows": 1,
             "status": "ok", "caption": None, "media": [],
             "audio_probe": {"sample_rate": 16000}, "audio_pcm": g.tone(0.5).tobytes()}]
    out = run_stages([stage], to_table(rows, sample_schema(list(AudioDecode().writes) + list(stage.writes))))
    assert out.column("drop_reason").to_pylist() == ["audio_asr_v1:llm_connection"]


def test_word_error_rate() -> None:
    assert word_error_rate("the cat sat on the mat", "The cat sat on the mat.") == 0.0
    assert word_error_rate("the cat sat on the mat", "the cat sat on mat") == pytest.approx(1 / 6)
    assert word_error_rate("a b", "c d e") == pytest.approx(1.5)
