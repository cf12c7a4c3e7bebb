"""The offline back end: LLaVA-style conversations from templates, deterministic per sample and seed.

Always available (no model, no network), so a job can synthesize instructions anywhere and a rerun or
a Ray retry reproduces the same text. Each (seed, sample_id, task) gets its own ``random.Random``
seeded from a blake2b hash — never the global RNG — so the choice of phrasing does not depend on which
worker ran the row or on what ran before it.

The three LLaVA-Instruct types (Liu et al. 2023: conversation, detailed description, complex
reasoning) are built from the caption; OCR QA quotes ``ocr_v1_texts``; temporal QA asks about a
sampled frame's timestamp and answers with the clip (scene) it falls in. Speech QA (rows with an ASR
transcript, ``audio_asr_v1_text``) asks what is said and answers with the transcript, or asks for a
summary and answers with the speech's length and its opening words, quoted: a template cannot
paraphrase, so it quotes. An audio-only row gets only the speech tasks (an image question about a
recording would be wrong). Templates restate facts and never invent content: complex-reasoning
answers are hedged inferences from the caption.
"""

from __future__ import annotations

import hashlib
import random

from mmcurate.pipeline.synthesis.conversation import (
    TASK_CONVERSATION,
    TASK_DETAIL,
    TASK_OCR,
    TASK_REASONING,
    TASK_SPEECH,
    TASK_SPEECH_SUMMARY,
    TASK_TEMPORAL,
    Conversation,
)
from mmcurate.pipeline.synthesis.facts import SampleFacts

__all__ = ["task_rng", "applicable_tasks", "template_conversation"]

# LLaVA's detail-description prompts (llava/data: detail_23k question list, abridged).
_DETAIL_Q = (
    "Describe the following {m} in detail.",
    "Provide a detailed description of the given {m}.",
    "Give an elaborate explanation of the {m} you see.",
    "Explain the visual content of the {m} in great detail.",
    "What is this {m} about? Describe it thoroughly.",
)
_BRIEF_Q = ("What is shown in this {m}?", "What do you see in the {m}?", "Can you describe this {m} briefly?",
            "What is the main subject of this {m}?")
_SIZE_Q = ("Is this {m} in landscape or portrait orientation?", "What is the shape of this {m}'s frame?")
_REASON_Q = ("What might be the purpose or context of this {m}?", "What can you infer about the setting of this {m}?",
             "Why might someone have taken this {m}?")
_OCR_Q = ("What does the sign say?", "What text is written in the {m}?", "Can you read the text in this {m}?",
          "What words appear in the {m}?")
_SPEECH_Q = ("What is said in this recording?", "Transcribe the speech in this audio.",
             "What does the speaker say?", "Write down what is said in the {m}.")
_SUMMARY_Q = ("Summarise the speech.", "Give a short summary of what the speaker says.",
              "What is this recording about? Keep it brief.")
# The summary quotes at most this many opening words of the transcript.
_SUMMARY_WORDS = 30
_TEMPORAL_Q = ("What happens at {t:.1f} seconds?", "What is shown at {t:.1f} seconds into the video?",
               "Describe the moment at {t:.1f} seconds.")


def task_rng(seed: int, sample_id: str, task: str) -> random.Random:
    """A private RNG for one (seed, sample, task): same inputs, same draws, on any worker."""
    digest = hashlib.blake2b(f"{seed}\x1f{sample_id}\x1f{task}".encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def _medium(f: SampleFacts) -> str:
    if f.n_audios and not f.n_images and not f.n_videos:
        return "recording"
    return "video" if f.n_videos and not f.n_images else "image"


def _orientation(f: SampleFacts) -> str | None:
    if not f.width or not f.height:
        return None
    ratio = f.width / f.height
    shape = "square" if 0.9 <= ratio <= 1.1 else ("landscape" if ratio > 1 else "portrait")
    return f"It is {shape}: {f.width} pixels wide and {f.height} pixels tall."


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def applicable_tasks(f: SampleFacts, tasks: tuple[str, ...]) -> tuple[str, ...]:
    """The requested tasks this sample has facts for (OCR needs text, temporal needs timestamps, speech a
    transcript); an audio-only row has only the speech tasks."""
    visual = bool(f.n_images or f.n_videos or not f.n_audios)
    have = {TASK_CONVERSATION: visual and bool(f.caption), TASK_DETAIL: visual and bool(f.caption),
            TASK_REASONING: visual and bool(f.caption), TASK_OCR: visual and bool(f.ocr_text),
            TASK_TEMPORAL: visual and bool(f.timestamps) and bool(f.caption),
            TASK_SPEECH: bool(f.transcript), TASK_SPEECH_SUMMARY: bool(f.transcript)}
    return tuple(t for t in tasks if have.get(t, False))


def _conversation(f: SampleFacts, rng: random.Random, m: str) -> list[tuple[str, str]]:
    turns = [("human", rng.choice(_BRIEF_Q).format(m=m)), ("gpt", _sentence(f.caption))]
    orientation = _orientation(f)
    if orientation:
        turns += [("human", rng.choice(_SIZE_Q).format(m=m)), ("gpt", orientation)]
    if f.ocr_text:
        turns += [("human", f"Is there any text in the {m}?"), ("gpt", f'Yes, it reads: "{f.ocr_text}".')]
    if f.duration_s is not None:
        turns += [("human", "How long is the video?"), ("gpt", f"About {f.duration_s:.1f} seconds.")]
    return turns


def _detail(f: SampleFacts, rng: random.Random, m: str) -> list[tuple[str, str]]:
    parts = [f"In this {m}: {_sentence(f.caption)}"]
    orientation = _orientation(f)
    if orientation:
        parts.append(orientation)
    if f.ocr_text:
        parts.append(f'Visible text reads "{f.ocr_text}".')
    if len(f.segments) > 1:
        parts.append(f"The video has {len(f.segments)} scenes over about {f.duration_s:.1f} seconds.")
    return [("human", rng.choice(_DETAIL_Q).format(m=m)), ("gpt", " ".join(parts))]


def _reasoning(f: SampleFacts, rng: random.Random, m: str) -> list[tuple[str, str]]:
    answer = (f"Judging from what the {m} shows ({f.caption.rstrip('.')}), it most likely documents that "
              f"scene as it happened; the visible details are the best evidence of its context.")
    if f.ocr_text:
        answer += f' The text "{f.ocr_text}" gives a further clue about where or why it was made.'
    return [("human", rng.choice(_REASON_Q).format(m=m)), ("gpt", answer)]


def _ocr(f: SampleFacts, rng: random.Random, m: str) -> list[tuple[str, str]]:
    return [("human", rng.choice(_OCR_Q).format(m=m)), ("gpt", f'It says "{f.ocr_text}".')]


def _temporal(f: SampleFacts, rng: random.Random, m: str) -> list[tuple[str, str]]:
    t = rng.choice(f.timestamps)
    hit = f.segment_at(t)
    where = ""
    if hit is not None and len(f.segments) > 1:
        i, seg = hit
        where = f" This is in scene {i + 1} of {len(f.segments)} ({seg.start_s:.1f}-{seg.end_s:.1f} s)."
    answer = f"At {t:.1f} seconds, the video shows this: {_sentence(f.caption)}{where}"
    return [("human", rng.choice(_TEMPORAL_Q).format(t=t)), ("gpt", answer)]


def _speech(f: SampleFacts, rng: random.Random, m: str) -> list[tuple[str, str]]:
    return [("human", rng.choice(_SPEECH_Q).format(m=m)), ("gpt", _sentence(f.transcript))]


def _speech_summary(f: SampleFacts, rng: random.Random, m: str) -> list[tuple[str, str]]:
    words = f.transcript.split()
    length = f" about {f.audio_s:.0f} seconds of" if f.audio_s else ""
    opening = " ".join(words[:_SUMMARY_WORDS]) + (" ..." if len(words) > _SUMMARY_WORDS else "")
    answer = f'The {m} is{length} speech, {len(words)} words. It begins: "{opening}"'
    return [("human", rng.choice(_SUMMARY_Q)), ("gpt", answer)]


_BUILDERS = {TASK_CONVERSATION: _conversation, TASK_DETAIL: _detail, TASK_REASONING: _reasoning,
             TASK_OCR: _ocr, TASK_TEMPORAL: _temporal, TASK_SPEECH: _speech, TASK_SPEECH_SUMMARY: _speech_summary}


def template_conversation(f: SampleFacts, task: str, seed: int = 0) -> Conversation:
    """The template conversation of ``task`` for sample ``f`` (caller checks :func:`applicable_tasks`)."""
    turns = _BUILDERS[task](f, task_rng(seed, f.sample_id, task), _medium(f))
    return Conversation(task, tuple(turns))
