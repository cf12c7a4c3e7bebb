"""Instruction synthesis: deterministic templates, and the LLM back end against a loopback server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from mmcurate.pipeline.runner import apply_to_rows
from mmcurate.pipeline.synthesis.chat_client import ChatConfig
from mmcurate.pipeline.synthesis.conversation import ConversationError, parse_llm_answer
from mmcurate.pipeline.synthesis.synthesize import SynthesizeInstructions
from mmcurate.schemas.mixture import INSTRUCT_BACKEND, INSTRUCT_LLAVA, INSTRUCT_MESSAGES


def _image_row(i: int, caption: str = "A red stop sign at a street corner", ocr: list[str] | None = None) -> dict[str, Any]:
    return {"sample_id": f"img{i:04d}", "caption": caption, "media": [{"kind": "image", "width": 640, "height": 480}]}


def _video_row() -> dict[str, Any]:
    clips = [{"clip_index": 0, "start_s": 0.0, "end_s": 2.5, "frame_ts": [0.0, 0.5, 1.0, 1.5, 2.0]},
             {"clip_index": 1, "start_s": 2.5, "end_s": 5.0, "frame_ts": [2.5, 3.0, 3.5, 4.0, 4.5]}]
    return {"sample_id": "vid0001", "caption": "A dog runs along a beach", "clips": clips,
            "media": [{"kind": "video", "width": 640, "height": 360}]}


def _run(stage: SynthesizeInstructions, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    import pyarrow as pa

    from mmcurate.schemas import sample as S
    from mmcurate.schemas.video import CLIPS_FIELD

    extra = [pa.field("ocr_v1_texts", pa.list_(pa.string())), CLIPS_FIELD, *stage.writes]
    return apply_to_rows(stage, rows, S.sample_schema(extra))


def test_templates_deterministic_per_sample_and_seed() -> None:
    rows = [_image_row(i) for i in range(12)]
    a = _run(SynthesizeInstructions(seed=1), rows)
    b = _run(SynthesizeInstructions(seed=1), list(reversed(rows)))[::-1]  # order and batch do not matter
    assert [r[INSTRUCT_LLAVA] for r in a] == [r[INSTRUCT_LLAVA] for r in b]
    assert len({r[INSTRUCT_LLAVA].replace(r["sample_id"], "") for r in a}) > 3  # phrasing varies across samples
    c = _run(SynthesizeInstructions(seed=2), rows)
    assert [r[INSTRUCT_LLAVA] for r in a] != [r[INSTRUCT_LLAVA] for r in c]
    assert all(r[INSTRUCT_BACKEND] == "template" for r in a)


def test_templates_cover_all_tasks_and_both_formats() -> None:
    row = _image_row(0) | {"ocr_v1_texts": ["STOP"]}
    (img,) = _run(SynthesizeInstructions(), [row])
    records = json.loads(img[INSTRUCT_LLAVA])
    assert [r["task"] for r in records] == ["conversation", "detail", "reasoning", "ocr"]
    assert all(r["conversations"][0]["value"].startswith("<image>\n") for r in records)
    assert all(t["from"] == ("human", "gpt")[i % 2] for r in records for i, t in enumerate(r["conversations"]))
    ocr = records[3]["conversations"]
    assert '"STOP"' in ocr[1]["value"]
    msgs = json.loads(img[INSTRUCT_MESSAGES])
    assert msgs[0]["messages"][0]["content"][0] == {"type": "image"}
    assert [m["role"] for m in msgs[0]["messages"]][:2] == ["user", "assistant"]

    (vid,) = _run(SynthesizeInstructions(), [_video_row()])
    temporal = next(r for r in json.loads(vid[INSTRUCT_LLAVA]) if r["task"] == "temporal")
    q, a = temporal["conversations"][0]["value"], temporal["conversations"][1]["value"]
    assert "seconds" in q and "video" in temporal and "scene" in a


def test_no_text_is_a_reject() -> None:
    (row,) = _run(SynthesizeInstructions(), [_image_row(0, caption="")])
    assert row["status"] == "rejected" and row["drop_reason"] == "synthesize_v1:no_source_text"


def test_parse_llm_answer_shapes() -> None:
    ok = parse_llm_answer('```json\n{"conversations": [{"from": "human", "value": "<image>\\nQ?"}, '
                          '{"from": "gpt", "value": "A."}]}\n```', "detail")
    assert ok.turns == (("human", "Q?"), ("gpt", "A."))
    for text, reason in (("not json", "invalid_llm_json"), ("[1, 2]", "invalid_llm_shape"),
                         ('{"conversations": [{"from": "human", "value": "Q"}]}', "invalid_llm_shape"),
                         ('{"conversations": [{"from": "gpt", "value": "A"}, {"from": "human", "value": "Q"}]}',
                          "invalid_llm_shape")):
        with pytest.raises(ConversationError) as err:
            parse_llm_answer(text, "detail")
        assert err.value.reason == reason


def _llm_stage(server: Any, tmp_path: Path | None = None, **kw: Any) -> SynthesizeInstructions:
    config = ChatConfig(base_url=server.base_url, model="tiny", backoff_s=0.01, max_retries=kw.pop("max_retries", 2),
                        timeout_s=kw.pop("timeout_s", 5.0), cache_dir=str(tmp_path / "cache") if tmp_path else None)
    return SynthesizeInstructions(llm=config, tasks=("conversation", "detail"), **kw)


def test_llm_good_answers(fake_llm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMCURATE_LLM_API_KEY", "sk-test")
    rows = _run(_llm_stage(fake_llm), [_image_row(i) for i in range(3)])
    assert all(r["status"] == "ok" for r in rows)
    assert fake_llm.requests == 6 and set(fake_llm.auth) == {"Bearer sk-test"}
    assert fake_llm.bodies[0]["model"] == "tiny" and fake_llm.bodies[0]["response_format"] == {"type": "json_object"}
    rec = json.loads(rows[0][INSTRUCT_LLAVA])[0]
    assert rec["conversations"][0]["value"] == "<image>\nWhat is in the picture?"
    assert rows[0][INSTRUCT_BACKEND] == "llm:tiny"


@pytest.mark.parametrize("mode, reason", [("invalid_json", "invalid_llm_json"), ("bad_shape", "invalid_llm_shape")])
def test_llm_invalid_answers_are_rejects(fake_llm: Any, mode: str, reason: str) -> None:
    fake_llm.mode = mode
    rows = _run(_llm_stage(fake_llm), [_image_row(0), _image_row(1)])
    assert [r["drop_reason"] for r in rows] == [f"synthesize_v1:{reason}"] * 2
    assert all(r["error"] for r in rows)


def test_llm_429_then_success(fake_llm: Any) -> None:
    fake_llm.mode = "429_then_ok"
    rows = _run(_llm_stage(fake_llm), [_image_row(0)])
    assert rows[0]["status"] == "ok"
    assert fake_llm.requests == 4  # two tasks, each 429 once then 200


def test_llm_500_exhausts_retries(fake_llm: Any) -> None:
    fake_llm.mode = "500"
    rows = _run(_llm_stage(fake_llm, max_retries=2), [_image_row(0), _image_row(1)])
    assert [r["drop_reason"] for r in rows] == ["synthesize_v1:llm_http_500"] * 2
    assert fake_llm.requests == 2 * 2 * 3  # rows x tasks x (1 + retries)


def test_llm_timeout_retries_then_rejects(fake_llm: Any, tmp_path: Path) -> None:
    fake_llm.delay_s = 0.6  # every answer comes after the client's 0.2 s timeout
    t0 = time.monotonic()
    rows = _run(_llm_stage(fake_llm, tmp_path, max_retries=1, timeout_s=0.2), [_image_row(0)])
    elapsed = time.monotonic() - t0
    assert rows[0]["status"] == "rejected" and rows[0]["drop_reason"] == "synthesize_v1:llm_timeout"
    assert "timed out" in rows[0]["error"]
    assert fake_llm.requests == 2 * 2  # tasks x (1 + retries): a timeout is retried, then final
    assert not list((tmp_path / "cache").rglob("*.json"))  # a timeout is not an answer: nothing cached
    # two tasks in parallel, each 2 attempts x 0.2 s + backoff; far below the server's 0.6 s per answer x 4
    assert elapsed < 2.0


def test_llm_cache_hits(fake_llm: Any, tmp_path: Path) -> None:
    rows = [_image_row(i, caption=f"Stop sign number {i}") for i in range(3)]  # distinct prompts
    first = _run(_llm_stage(fake_llm, tmp_path), rows)
    assert fake_llm.requests == 6
    second = _run(_llm_stage(fake_llm, tmp_path), rows)
    assert fake_llm.requests == 6  # every answer from the cache
    assert [r[INSTRUCT_LLAVA] for r in first] == [r[INSTRUCT_LLAVA] for r in second]
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 6
    assert not list((tmp_path / "cache").rglob("*.mmcurate-tmp-*"))


def test_llm_concurrency_limit(fake_llm: Any) -> None:
    fake_llm.delay_s = 0.05
    rows = _run(_llm_stage(fake_llm, max_concurrency=3), [_image_row(i) for i in range(8)])
    assert all(r["status"] == "ok" for r in rows) and fake_llm.requests == 16
    assert 2 <= fake_llm.max_in_flight <= 3


TRANSCRIPT = "the rain in spain stays mainly in the plain said the professor"


def _audio_rows() -> list[dict[str, Any]]:
    probe = {"duration_s": 4.2, "sample_rate": 16000}
    return [{"sample_id": "aud0001", "caption": "A professor speaks", "media": [{"kind": "audio"}],
             "audio_probe": probe, "audio_asr_v1_text": TRANSCRIPT},
            {"sample_id": "aud0002", "caption": "A tone", "media": [{"kind": "audio"}], "audio_probe": probe,
             "audio_asr_v1_text": None}]


def _run_audio(stage: SynthesizeInstructions, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    import pyarrow as pa

    from mmcurate.schemas import sample as S
    from mmcurate.schemas.audio import AUDIO_PROBE_FIELD
    from mmcurate.schemas.video import CLIPS_FIELD

    extra = [pa.field("ocr_v1_texts", pa.list_(pa.string())), CLIPS_FIELD, AUDIO_PROBE_FIELD,
             pa.field("audio_asr_v1_text", pa.string()), *stage.writes]
    return apply_to_rows(stage, rows, S.sample_schema(extra))


def test_speech_qa_from_the_transcript_for_audio_rows() -> None:
    spoken, silent = _run_audio(SynthesizeInstructions(), _audio_rows())
    records = json.loads(spoken[INSTRUCT_LLAVA])
    # Only the speech tasks: an image question about a recording would be wrong.
    assert [r["task"] for r in records] == ["speech", "speech_summary"]
    said, summary = (r["conversations"] for r in records)
    assert said[0]["value"].startswith("<audio>\n") and "<image>" not in said[0]["value"]
    assert said[1]["value"] == TRANSCRIPT + "."
    assert summary[0]["value"].split("\n", 1)[1] in ("Summarise the speech.", "Give a short summary of what the "
                                                     "speaker says.", "What is this recording about? Keep it brief.")
    assert summary[1]["value"] == f'The recording is about 4 seconds of speech, 12 words. It begins: "{TRANSCRIPT}"'
    assert records[0]["audio"] == "aud0001" and "image" not in records[0]
    msgs = json.loads(spoken[INSTRUCT_MESSAGES])
    assert msgs[0]["messages"][0]["content"][0] == {"type": "audio"}
    # No transcript: left alone, not rejected, no instructions.
    assert silent["status"] == "ok" and silent[INSTRUCT_LLAVA] is None


def test_speech_qa_is_a_template_even_with_an_llm(fake_llm: Any) -> None:
    stage = SynthesizeInstructions(llm=ChatConfig(base_url=fake_llm.base_url, model="tiny", backoff_s=0.01),
                                   tasks=("conversation", "speech"))
    video = _video_row() | {"audio_asr_v1_text": TRANSCRIPT}
    (row,) = _run_audio(stage, [video])
    records = json.loads(row[INSTRUCT_LLAVA])
    assert [r["task"] for r in records] == ["conversation", "speech"]
    assert fake_llm.requests == 1  # the visual task only: the transcript is quoted, never asked for
    assert records[1]["conversations"][1]["value"] == TRANSCRIPT + "."
    assert records[1]["conversations"][0]["value"].startswith("<image>\n<audio>\n")
