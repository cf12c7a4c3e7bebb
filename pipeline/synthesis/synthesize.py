"""The instruction-synthesis stage (``synthesize_v1``): LLaVA-style conversations for every sample.

From the caption, OCR text, image size and video timestamps (:mod:`.facts`) it writes, per sample,
one conversation per applicable task — conversation, detailed description, complex reasoning (the
three LLaVA-Instruct types), OCR QA and video temporal QA — in two formats at once: LLaVA JSON and
OpenAI chat messages (JSON text columns, see :mod:`.columns`).

Two back ends, one stage:

* ``llm=None`` — offline templates (:mod:`.templates`), deterministic per ``seed`` and ``sample_id``.
* ``llm=ChatConfig(...)`` — any OpenAI-compatible endpoint (:mod:`.chat_client`). Requests of one
  batch run on ``max_concurrency`` threads inside the stage (I/O-bound: threads, not processes); on Ray
  the stage runs in an actor pool, so the endpoint sees at most actors x ``max_concurrency`` requests.

Rejects (``synthesize_v1:<reason>``): ``no_source_text`` (no caption and no OCR text),
``invalid_llm_json`` (the answer is not JSON), ``invalid_llm_shape`` (JSON, wrong conversation shape),
``llm_http_<status>`` / ``llm_timeout`` / ``llm_connection`` / ``llm_bad_response`` once retries are
spent. A row is rejected as a whole if any of its tasks fails: half a sample's instructions would skew
the task mix silently.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mmcurate.pipeline.media_rows import rows_with_media_kind
from mmcurate.pipeline.stage import Resources, Stage
from mmcurate.pipeline.synthesis.chat_client import ChatClient, ChatConfig, ChatError
from mmcurate.pipeline.synthesis.conversation import (
    SPEECH_TASKS,
    TASKS,
    Conversation,
    ConversationError,
    dumps,
    parse_llm_answer,
    to_llava_record,
    to_messages,
)
from mmcurate.pipeline.synthesis.facts import TRANSCRIPT, SampleFacts, facts_from_row
from mmcurate.pipeline.synthesis.llm_prompt import task_messages
from mmcurate.pipeline.synthesis.templates import applicable_tasks, template_conversation
from mmcurate.schemas import sample as S
from mmcurate.schemas.mixture import (
    INSTRUCT_BACKEND,
    INSTRUCT_FIELDS,
    INSTRUCT_LLAVA,
    INSTRUCT_MESSAGES,
    OCR_TEXTS,
)
from mmcurate.schemas.table import to_table

__all__ = ["SynthesizeInstructions"]

_Outcome = Conversation | ConversationError | ChatError


@dataclass(kw_only=True)
class SynthesizeInstructions(Stage):
    """Write ``synthesize_v1_llava``, ``synthesize_v1_messages`` and ``synthesize_v1_backend``."""

    name: ClassVar[str] = "synthesize_v1"
    reads: ClassVar[tuple[str, ...]] = (S.SAMPLE_ID, S.CAPTION, S.MEDIA)  # + ocr_column, clips when present
    writes: ClassVar[tuple[pa.Field, ...]] = INSTRUCT_FIELDS
    # Stateful so Ray runs it in an actor pool: the actor count bounds the endpoint's concurrency.
    stateful: ClassVar[bool] = True
    resources: ClassVar[Resources] = Resources(num_cpus=0.5)

    tasks: tuple[str, ...] = TASKS
    seed: int = 0
    llm: ChatConfig | None = None
    max_concurrency: int = 8
    ocr_column: str = OCR_TEXTS
    batch_size: int = 64
    _client: ChatClient | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.tasks = tuple(self.tasks)
        unknown = set(self.tasks) - set(TASKS)
        if unknown or not self.tasks:
            raise ValueError(f"tasks must be a non-empty subset of {TASKS}, got unknown {sorted(unknown)}")
        if isinstance(self.llm, dict):  # YAML configs give a mapping
            self.llm = ChatConfig(**self.llm)
        if self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {self.max_concurrency}")

    def setup(self) -> None:
        self._client = ChatClient(self.llm) if self.llm is not None else None

    @property
    def backend(self) -> str:
        return f"llm:{self.llm.model}" if self.llm is not None else "template"

    def _ask(self, job: tuple[SampleFacts, str]) -> _Outcome:
        facts, task = job
        assert self._client is not None
        try:
            content, _cached = self._client.complete(task_messages(facts, task))
            return parse_llm_answer(content, task)
        except (ChatError, ConversationError) as err:
            return err

    def _conversations(self, all_facts: list[SampleFacts], all_tasks: list[tuple[str, ...]]) -> list[list[_Outcome]]:
        # Speech QA is always a template: its answer is the transcript itself (a model could only misquote it).
        if self._client is None:
            return [[template_conversation(f, t, self.seed) for t in tasks] for f, tasks in zip(all_facts, all_tasks)]
        jobs = [(f, t) for f, tasks in zip(all_facts, all_tasks) for t in tasks if t not in SPEECH_TASKS]
        with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="synthesize") as pool:
            flat = iter(list(pool.map(self._ask, jobs)))  # map keeps job order
        return [[template_conversation(f, t, self.seed) if t in SPEECH_TASKS else next(flat) for t in tasks]
                for f, tasks in zip(all_facts, all_tasks)]

    def applies_to(self, batch: pa.Table) -> pa.Array | None:
        """Rows with an image or video, or no media at all, and audio-only rows with a transcript (speech QA).
        An audio-only row without one is left alone: image questions ("What do you see in the image?")
        would be wrong for it, and it keeps its caption as its text (``modality`` audio)."""
        if S.MEDIA not in batch.column_names:
            return None
        heard = np.zeros(batch.num_rows, dtype=bool)
        if TRANSCRIPT in batch.column_names:
            text = pc.fill_null(pc.utf8_length(pc.utf8_trim_whitespace(batch.column(TRANSCRIPT))), 0)
            heard = np.asarray(pc.greater(text, 0).to_numpy(zero_copy_only=False), dtype=bool)
        audio_only = rows_with_media_kind(batch, ("audio",)) & ~rows_with_media_kind(batch, ("image", "video"))
        return pa.array(~audio_only | heard)

    def process_batch(self, batch: pa.Table) -> pa.Table:
        self.ensure_setup()
        rows = batch.to_pylist()
        all_facts = [facts_from_row(r, self.ocr_column) for r in rows]
        all_tasks = [applicable_tasks(f, self.tasks) for f in all_facts]
        results = self._conversations(all_facts, all_tasks)
        for row, f, outcomes in zip(rows, all_facts, results):
            row.update(self._row_output(f, outcomes))
        schema = batch.schema
        for fld in self.writes:
            if fld.name not in schema.names:
                schema = schema.append(fld)
        return to_table(rows, schema)

    def _row_output(self, f: SampleFacts, outcomes: list[_Outcome]) -> dict[str, Any]:
        if not outcomes:
            return self._reject("no_source_text", "no caption, OCR text or timestamps to build instructions from")
        for out in outcomes:
            if isinstance(out, (ChatError, ConversationError)):
                return self._reject(out.reason, out.detail)
        convs = [o for o in outcomes if isinstance(o, Conversation)]
        return {
            INSTRUCT_LLAVA: dumps([to_llava_record(c, f.sample_id, f.n_images, f.n_videos, _audios(f, c))
                                   for c in convs]),
            INSTRUCT_MESSAGES: dumps([to_messages(c, f.n_images, f.n_videos, _audios(f, c)) for c in convs]),
            INSTRUCT_BACKEND: self.backend,
        }

    def _reject(self, code: str, detail: str) -> dict[str, Any]:
        return {S.STATUS: S.STATUS_REJECTED, S.STAGE: self.name, S.DROP_REASON: self.reason(code),
                S.ERROR: detail[:2000] or None}


def _audios(f: SampleFacts, conv: Conversation) -> int:
    """Audio placeholders of one conversation: speech questions are about the sound (a video's soundtrack
    included); the visual tasks of a video with sound need only the video."""
    return max(f.n_audios, 1) if conv.task in SPEECH_TASKS else 0
