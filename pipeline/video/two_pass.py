"""Two-pass extraction, for what one pass cannot do: ``uniform_n`` and ``encode_mp4``.

Pass 1 decodes everything for timestamps and cut scores (the shared :func:`.decode_loop.decode_frames`);
spans come from the same cut detector and segmenter, fps plans from the same sampler as the single pass,
so both paths cut and sample identically. Pass 2 decodes again and keeps the planned frames; without
MP4s the decoder drops frames nothing refers to (``skip_frame=NONREF``) unless they are planned.
"""

from __future__ import annotations

from collections.abc import Iterator

import av
import numpy as np

from mmcurate.pipeline.reject import Reject
from mmcurate.pipeline.video import frames as F
from mmcurate.pipeline.video.decode_loop import FrameStore, Timeline, clip_sampler, decode_frames, motion_score, open_stream
from mmcurate.pipeline.video.extract_params import ExtractedClip, Extraction, ExtractParams
from mmcurate.pipeline.video.probe import (
    VideoProbe,
    VideoSource,
)
from mmcurate.pipeline.video.scenes import (
    ClipSpan,
    detect_cuts,
    split_spans,
)

__all__ = ["extract_two_pass"]


def _plan(span: ClipSpan, ts: np.ndarray, p: ExtractParams) -> np.ndarray:
    """Frame indices to sample from one span (the single pass's rule, run over known timestamps)."""
    if p.uniform_n is not None:
        targets = F.uniform_timestamps(span.start_s, span.end_s, min(p.uniform_n, span.n_frames))
        return F.nearest_frames(ts, targets, span.start_frame, span.end_frame)
    sampler = clip_sampler(span.start_s, p)
    for k in range(span.start_frame, span.end_frame):
        sampler.push(k, float(ts[k]))
    return np.asarray(sampler.finish(span.end_s), dtype=np.int64)


def _decode_again(source: VideoSource, p: ExtractParams, last_needed: int,
                  skip_by_pts: dict[int, int] | None) -> Iterator[tuple[int, av.VideoFrame]]:
    """Pass 2's decode: ``(index, frame)`` in presentation order, up to frame ``last_needed``.

    With ``skip_by_pts`` (planned pts -> frame index; only when every pass-1 frame had a distinct pts),
    a packet whose pts is not planned is decoded with ``skip_frame=NONREF``, so the decoder drops it if
    no other frame references it, and frames are identified by pts. A frame the decoder still returns
    but that is not planned (a reference frame) is not yielded.
    """
    container, stream = open_stream(source, p.threads)
    with container:
        ctx = stream.codec_context
        k, remaining = -1, len(skip_by_pts or ())
        for packet in container.demux(stream):
            if skip_by_pts is not None:
                # A packet without pts (the flush packet, some elementary streams) is always decoded.
                planned = packet.pts is None or packet.pts in skip_by_pts
                ctx.skip_frame = "DEFAULT" if planned else "NONREF"
            for frame in ctx.decode(packet):
                if skip_by_pts is None:
                    k += 1
                elif (found := skip_by_pts.get(frame.pts)) is None:  # type: ignore[arg-type]
                    continue
                else:
                    k, remaining = found, remaining - 1
                if k > last_needed:
                    return
                yield k, frame
                if skip_by_pts is not None and remaining == 0:
                    return


def _sample(source: VideoSource, p: ExtractParams, probe: VideoProbe, ts: np.ndarray, pts: list[int | None],
            spans: list[ClipSpan], plans: list[np.ndarray]) -> list[ExtractedClip]:
    """Two-pass path, pass 2: decode again and keep the planned frames (and clip MP4s)."""
    store = FrameStore.for_video(probe.width, probe.height, probe.rotation, p)
    (sw, sh), (up_w, up_h) = (store.width, store.height), store.upright_size
    clips = [ExtractedClip(i, s.start_s, s.end_s, s.start_frame, s.n_frames, s.start_reason,
                           [float(ts[k]) for k in plan], width=up_w, height=up_h,
                           sample_fps=len(plan) / s.duration_s if s.duration_s > 0 else 0.0)
             for i, (s, plan) in enumerate(zip(spans, plans))]
    wanted: dict[int, list[int]] = {}
    for ci, plan in enumerate(plans):
        for k in plan:
            wanted.setdefault(int(k), []).append(ci)
    last_needed = max(s.end_frame for s in spans) - 1
    thumbs: list[list[tuple[int, np.ndarray]]] = [[] for _ in spans]
    encoders: dict[int, F.ClipEncoder] = {}
    span_of = np.full(last_needed + 1, -1, dtype=np.int64)
    for ci, s in enumerate(spans):
        span_of[s.start_frame : s.end_frame] = ci
    skip_by_pts = None
    if not p.encode_mp4 and None not in pts and len(set(pts)) == len(pts):
        skip_by_pts = {int(pts[k]): k for k in wanted}  # type: ignore[arg-type]
    try:
        for k, frame in _decode_again(source, p, last_needed, skip_by_pts):
            ci = int(span_of[k])
            keep, encode = k in wanted, p.encode_mp4 and ci >= 0
            if not (keep or encode):
                continue
            rgb = store.rgb(frame)
            if keep:
                jpeg, small = store.jpeg(rgb), store.thumbnail(frame)
                for cj in wanted[k]:
                    clips[cj].frames.append(jpeg)
                    if not thumbs[cj] or thumbs[cj][-1][0] != k:
                        thumbs[cj].append((k, small))
            if encode:
                enc = encoders.setdefault(ci, F.ClipEncoder(sw, sh, probe.rotation))
                enc.add(rgb, float(ts[k]) - spans[ci].start_s)
                if k == spans[ci].end_frame - 1:
                    clips[ci].mp4 = encoders.pop(ci).finish()
    except av.error.FFmpegError:
        pass  # a truncated file ends where pass 1 ended; missing frames are checked below
    if any(len(c.frames) != len(c.frame_ts) for c in clips):
        if skip_by_pts is not None:  # pts did not survive the second demux as in the first: decode it all
            return _sample(source, p, probe, ts, [None] * len(pts), spans, plans)
        raise Reject("truncated", "second decode pass ended before the first")
    for ci, enc in encoders.items():
        clips[ci].mp4 = enc.finish()
    for c, th in zip(clips, thumbs):
        c.motion = motion_score([thumb for _, thumb in th])
    return clips


def extract_two_pass(source: VideoSource, p: ExtractParams) -> Extraction:
    tl = Timeline()
    scores = [score for _, _, score in decode_frames(source, p, tl)]
    probe, ts = tl.probe(), np.asarray(tl.ts, dtype=np.float64)
    cuts = detect_cuts(scores, threshold=p.cut_threshold, adaptive_ratio=p.cut_adaptive_ratio,
                       min_scene_frames=p.min_scene_frames)
    spans = split_spans(ts, probe.duration_s, cuts, max_clip_s=p.max_clip_s, min_clip_s=p.min_clip_s)
    if not spans:
        return Extraction(probe, [])
    plans = [_plan(s, ts, p) for s in spans]
    return Extraction(probe, _sample(source, p, probe, ts, tl.pts, spans, plans))
