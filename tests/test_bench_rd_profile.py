"""``benchmarks/bench_rd_profile.py``: the RD encoder's stages, found in a real profile by name."""

from __future__ import annotations

import cProfile
import pstats

from _eval_helpers import load_script, moving_texture

from actdiff.codec import encode_video
from actdiff.config import compose
from actdiff.image_codecs.pillow_codecs import AvifCodec
from actdiff.types import Video


def test_every_stage_is_found_in_a_profiled_rd_encode(monkeypatch):
    prof_mod = load_script("benchmarks/bench_rd_profile.py")
    images = []
    original = AvifCodec.encode
    monkeypatch.setattr(AvifCodec, "encode", lambda self, img: images.append(1) or original(self, img))
    video = Video(frames=moving_texture(t=16, h=64, w=96), fps=25.0)
    cfg = compose(None, ["codec.mode=rd", "codec.rd.lambda=2", "codec.threads=1", "codec.rd.threads=1",
                         "codec.rd.qualities=[0,15,35,70]", "codec.rd.budgets=[8,32]", "codec.rd.scales=[1]"])
    prof = cProfile.Profile()
    prof.enable()
    res = encode_video(video, cfg)
    prof.disable()
    stages = prof_mod.stage_seconds(pstats.Stats(prof))
    assert set(stages) == set(prof_mod.STAGES)
    for name in ("flows", "avif", "selection", "decode_and_distortion", "search", "stream_keys"):
        assert stages[name]["calls"] >= 1 and stages[name]["seconds"] > 0, name  # a renamed function shows here
    assert stages["search"]["calls"] == 1 and stages["flows"]["calls"] == 1
    assert stages["avif"]["calls"] == len(images)  # AvifCodec.encode wraps _PillowCodec.encode: counted once
    if len(res.stats["keyframes"]) > 1:
        assert stages["inter_choice"]["calls"] == len(res.stats["keyframes"])
