"""The Arrow columns the video stages write, and the clip record a writer emits.

Column names and types are defined once here (the sample schema in ``mmcurate.schemas`` is not ours
to change; these are stage-declared columns, merged in through ``Stage.writes``). A video row gets a
``video_probe`` struct (what the stream is) and a ``clips`` list (what we cut from it); everything a
token estimate needs is in the clip: the sampled frame timestamps, the stored frame size and the
effective sampling rate (Qwen2.5-VL's ``second_per_grid_t = temporal_patch_size / sample_fps``).
"""

from __future__ import annotations

import pyarrow as pa

__all__ = [
    "VIDEO_PROBE",
    "CLIPS",
    "VIDEO_PROBE_TYPE",
    "CLIP_TYPE",
    "VIDEO_PROBE_FIELD",
    "CLIPS_FIELD",
    "CLIP_ID",
    "CLIP_INDEX",
    "PARENT_COLUMNS",
    "CLIP_RECORD_SCHEMA",
]

VIDEO_PROBE = "video_probe"
CLIPS = "clips"
CLIP_ID = "clip_id"
CLIP_INDEX = "clip_index"


def _f(name: str, type_: pa.DataType, doc: str) -> pa.Field:
    return pa.field(name, type_, metadata={"doc": doc})


VIDEO_PROBE_TYPE = pa.struct(
    [
        _f("container", pa.string(), "demuxer name (FFmpeg's, e.g. 'mov,mp4,m4a,3gp,3g2,mj2')"),
        _f("codec", pa.string(), "video decoder name (h264, vp9, av1/libdav1d, mpeg2video, ...)"),
        _f("pix_fmt", pa.string(), "decoded pixel format of the first frame"),
        _f("width", pa.int32(), "coded width in pixels (before rotation)"),
        _f("height", pa.int32(), "coded height in pixels (before rotation)"),
        _f("rotation", pa.int32(), "display rotation, degrees counter-clockwise (0, 90, 180, 270)"),
        _f("display_width", pa.int32(), "width as displayed (after rotation)"),
        _f("display_height", pa.int32(), "height as displayed (after rotation)"),
        _f("n_frames", pa.int64(), "frames actually decoded"),
        _f("duration_s", pa.float64(), "from decoded timestamps: last - first + last frame's duration"),
        _f("declared_duration_s", pa.float64(), "the container's claim; informational, never trusted"),
        _f("avg_fps", pa.float64(), "n_frames / duration_s"),
        _f("declared_fps", pa.float64(), "the stream's average_rate as FFmpeg reports it"),
        _f("vfr", pa.bool_(), "frame intervals vary by more than 10% of the median"),
        _f("has_audio", pa.bool_(), "the container has at least one audio stream"),
        _f("truncated", pa.bool_(), "decoding stopped on an error after some frames (kept partial)"),
    ]
)

CLIP_TYPE = pa.struct(
    [
        _f(CLIP_INDEX, pa.int32(), "position of the clip in the video, 0-based, after slivers are dropped"),
        _f("start_s", pa.float64(), "timestamp of the clip's first frame, seconds from the first frame"),
        _f("end_s", pa.float64(), "timestamp where the clip ends (next frame's timestamp), seconds"),
        _f("start_frame", pa.int64(), "index of the clip's first decoded frame in the source"),
        _f("n_frames", pa.int32(), "source frames in the clip"),
        _f("start_reason", pa.string(), "why the clip starts here: 'start', 'cut' or 'max_length'"),
        _f("frame_ts", pa.list_(pa.float64()), "timestamps (s, source timeline) of the sampled frames"),
        _f("frames", pa.list_(pa.binary()), "sampled frames as JPEG, upright, at width x height"),
        _f("width", pa.int32(), "stored frame width (upright, after the pixel cap)"),
        _f("height", pa.int32(), "stored frame height (upright, after the pixel cap)"),
        _f("sample_fps", pa.float64(), "sampled frames per second of clip: len(frames) / (end_s - start_s)"),
        _f("motion", pa.float64(), "mean abs difference (0-255) of consecutive sampled frames; null if < 2"),
        _f("mp4", pa.binary(), "the clip re-encoded as its own MP4 (only with encode_mp4); else null"),
    ]
)

VIDEO_PROBE_FIELD = pa.field(VIDEO_PROBE, VIDEO_PROBE_TYPE, metadata={"doc": "what the video stream is"})
CLIPS_FIELD = pa.field(CLIPS, pa.list_(CLIP_TYPE), metadata={"doc": "scene clips cut from the video"})

# Parent columns a clip record carries, so a clip shard is usable without joining back.
PARENT_COLUMNS = ("sample_id", "source", "locator", "url", "caption", "meta_json")

CLIP_RECORD_SCHEMA = pa.schema(
    [
        pa.field(CLIP_ID, pa.string(), nullable=False, metadata={"doc": "'<sample_id>-<clip_index:04d>'"}),
        pa.field("sample_id", pa.string(), nullable=False, metadata={"doc": "the parent video's sample id"}),
        pa.field("source", pa.string(), nullable=False, metadata={"doc": "input the parent came from"}),
        pa.field("locator", pa.string(), nullable=False, metadata={"doc": "where in the source"}),
        pa.field("url", pa.string(), metadata={"doc": "origin URL of the parent, if any"}),
        pa.field("caption", pa.string(), metadata={"doc": "the parent's caption (clip captions are later work)"}),
        pa.field("meta_json", pa.string(), metadata={"doc": "the parent's source metadata, verbatim"}),
        *[CLIP_TYPE.field(i) for i in range(CLIP_TYPE.num_fields)],
    ],
    metadata={"mmcurate.schema": "video_clip/v1"},
)
