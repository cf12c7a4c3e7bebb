"""The conversation shape every back end must produce, its validation, and the two output formats.

A synthesized conversation is a list of turns ``{"from": "human" | "gpt", "value": str}`` that starts
with a human turn and alternates, as in LLaVA's ``llava_instruct_150k.json``. The template back end
builds it directly; the LLM back end must answer ``{"conversations": [...]}`` and anything else is
rejected with a named reason (never repaired silently, never dropped).

Media placeholders are ours to place, not the model's: :func:`to_llava_record` strips any
``<image>`` a model wrote (other placeholders and ``<|...|>`` tokens are defused, see
:mod:`mmcurate.pipeline.text_safety`) and opens the first human turn with one ``<image>\\n`` per media item
(LLaVA-NeXT/OneVision also use ``<image>`` for video frames, with a ``video`` key on the record).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from mmcurate.pipeline.text_safety import neutralise

__all__ = [
    "TASKS",
    "TASK_CONVERSATION",
    "TASK_DETAIL",
    "TASK_REASONING",
    "TASK_OCR",
    "TASK_TEMPORAL",
    "TASK_SPEECH",
    "TASK_SPEECH_SUMMARY",
    "SPEECH_TASKS",
    "Conversation",
    "ConversationError",
    "parse_llm_answer",
    "to_llava_record",
    "to_messages",
    "dumps",
]

TASK_CONVERSATION = "conversation"
TASK_DETAIL = "detail"
TASK_REASONING = "reasoning"
TASK_OCR = "ocr"
TASK_TEMPORAL = "temporal"
TASK_SPEECH = "speech"  # what is said: answered with the transcript (audio_asr_v1_text)
TASK_SPEECH_SUMMARY = "speech_summary"  # summarise the speech: its length and its opening words, quoted
SPEECH_TASKS = (TASK_SPEECH, TASK_SPEECH_SUMMARY)
TASKS = (TASK_CONVERSATION, TASK_DETAIL, TASK_REASONING, TASK_OCR, TASK_TEMPORAL, *SPEECH_TASKS)

IMAGE_TOKEN = "<image>"
AUDIO_TOKEN = "<audio>"
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
_ROLES = {"human": "user", "gpt": "assistant"}


class ConversationError(ValueError):
    """An answer that is not a valid conversation; ``reason`` is the reject code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Conversation:
    """One synthesized conversation of one task type."""

    task: str
    turns: tuple[tuple[str, str], ...]  # (from, value) pairs, human first, alternating

    def __post_init__(self) -> None:
        _check_turns([{"from": f, "value": v} for f, v in self.turns])


def _check_turns(turns: Any) -> None:
    if not isinstance(turns, list) or not turns:
        raise ConversationError("invalid_llm_shape", "'conversations' must be a non-empty list")
    if len(turns) % 2:
        raise ConversationError("invalid_llm_shape", f"{len(turns)} turns: a conversation ends with a gpt turn")
    for i, turn in enumerate(turns):
        want = "human" if i % 2 == 0 else "gpt"
        if not isinstance(turn, dict) or set(turn) != {"from", "value"}:
            raise ConversationError("invalid_llm_shape", f"turn {i} must be an object with exactly 'from' and 'value'")
        if turn["from"] != want:
            raise ConversationError("invalid_llm_shape", f"turn {i} is from {turn['from']!r}, expected {want!r}")
        if not isinstance(turn["value"], str) or not turn["value"].replace(IMAGE_TOKEN, "").strip():
            raise ConversationError("invalid_llm_shape", f"turn {i} has an empty or non-string value")


def parse_llm_answer(content: str, task: str, max_turns: int = 16) -> Conversation:
    """Validate a model's answer text as ``{"conversations": [...]}`` for ``task``.

    One surrounding Markdown code fence is tolerated (models add them even in JSON mode); anything else
    that is not JSON raises ``invalid_llm_json``, a wrong structure ``invalid_llm_shape``.
    """
    match = _FENCE.match(content)
    text = match.group(1) if match else content
    try:
        obj = json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ConversationError("invalid_llm_json", f"{exc}; answer starts {content[:120]!r}") from None
    if not isinstance(obj, dict) or "conversations" not in obj:
        raise ConversationError("invalid_llm_shape", "answer is not an object with a 'conversations' key")
    turns = obj["conversations"]
    _check_turns(turns)
    if len(turns) > max_turns:
        raise ConversationError("invalid_llm_shape", f"{len(turns)} turns, more than {max_turns}")
    # Our own placeholder is dropped (we place it); any other placeholder or control token is defused.
    return Conversation(task, tuple((t["from"], neutralise(t["value"].replace(IMAGE_TOKEN, ""))[0].strip())
                                    for t in turns))


def to_llava_record(conv: Conversation, sample_id: str, n_images: int, n_videos: int,
                    n_audios: int = 0) -> dict[str, Any]:
    """A LLaVA instruct record; ``<image>`` x (images + videos), then ``<audio>`` x audios, opens the first
    human turn (an audio-only row's speech questions carry only ``<audio>``)."""
    marks = [IMAGE_TOKEN] * (n_images + n_videos) + [AUDIO_TOKEN] * n_audios
    turns = []
    for i, (who, value) in enumerate(conv.turns):
        if i == 0 and marks:
            value = "\n".join(marks) + "\n" + value
        turns.append({"from": who, "value": value})
    record: dict[str, Any] = {"id": f"{sample_id}-{conv.task}", "task": conv.task}
    if n_images:
        record["image"] = sample_id if n_images == 1 else [f"{sample_id}-{i}" for i in range(n_images)]
    if n_videos:
        record["video"] = sample_id
    if n_audios:
        record["audio"] = sample_id
    record["conversations"] = turns
    return record


def to_messages(conv: Conversation, n_images: int, n_videos: int, n_audios: int = 0) -> dict[str, Any]:
    """OpenAI chat messages; media are content parts before the first user text."""
    messages: list[dict[str, Any]] = []
    for i, (who, value) in enumerate(conv.turns):
        if i == 0 and (n_images or n_videos or n_audios):
            parts = [{"type": "image"}] * n_images + [{"type": "video"}] * n_videos + [{"type": "audio"}] * n_audios
            messages.append({"role": "user", "content": [*parts, {"type": "text", "text": value}]})
        else:
            messages.append({"role": _ROLES[who], "content": value})
    return {"task": conv.task, "messages": messages}


def dumps(obj: Any) -> str:
    """Compact, key-ordered, UTF-8-preserving JSON (stable bytes for identical content)."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
