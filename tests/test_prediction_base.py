"""Models whose residual is added to the warp decoder's frame (``residual_base: pred``):
the ``pred`` condition channels, the model switch, starting from 20-channel weights, decoding."""

import numpy as np
import pytest
import torch

from actdiff.conditioning.conditions import (
    NUM_CHANNELS,
    build_conditions,
    channel_slice,
    num_channels,
    prediction_from_conditions,
    to_signed,
)
from actdiff.config import compose, load_group
from actdiff.decoders.diffusion import DiffusionDecoder
from actdiff.models import build_model
from actdiff.models.denoiser import COND_INPUT_WEIGHT, widen_condition_input
from actdiff.motion.prediction import predict_frame
from actdiff.training.fit import run_fit
from actdiff.training.synthetic import moving_texture, segment_from_frames, synthetic_segment_source, synthetic_video
from actdiff.types import StreamHeader


def _segment(h=36, w=50, length=7):
    frames = moving_texture(10 + length, h, w, seed=3)
    seg = segment_from_frames(frames, 10, 10 + length - 1)
    header = StreamHeader(height=h, width=w, coded_height=h, coded_width=w, num_frames=40, fps=25.0, seed=5)
    return header, seg


def _micro(base: str):
    cfg = load_group("model", "micro")
    cfg.residual_over_warp, cfg.residual_base = True, base
    return build_model(cfg)


@pytest.fixture(scope="module")
def blend_weights(tmp_path_factory):
    """Random micro weights of a blend model whose control branch matters."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("blend")
    model = _micro("blend")
    with torch.no_grad():
        for p in [*model.controlnet.controlnet_down_blocks.parameters(),
                  *model.controlnet.controlnet_cond_embedding.conv_out.parameters(),
                  model.controlnet.controlnet_cond_embedding.conv_in.weight]:
            p.normal_(0, 0.5)
    model.save_pretrained(str(folder), safe_serialization=True)
    return folder


def test_pred_channels_are_the_warp_decoders_frame():
    _, seg = _segment()
    plain, with_pred = build_conditions(seg, 3), build_conditions(seg, 3, prediction=True)
    assert plain.shape[0] == NUM_CHANNELS == 20 and with_pred.shape[0] == num_channels(True) == 23
    assert channel_slice("pred") == slice(20, 23)
    np.testing.assert_array_equal(with_pred[:NUM_CHANNELS], plain)
    np.testing.assert_array_equal(prediction_from_conditions(with_pred), to_signed(predict_frame(seg, 3)))
    with pytest.raises(ValueError, match="carry no prediction"):
        prediction_from_conditions(plain)


def test_the_base_fixes_the_condition_channels():
    model = _micro("pred")
    assert model.reads_prediction and model.config.conditioning_channels == 23
    assert not _micro("blend").reads_prediction
    kwargs = {k: v for k, v in model.config.items() if not k.startswith("_")}
    with pytest.raises(ValueError, match="residual_base"):
        type(model)(**{**kwargs, "residual_base": "cross-fade"})
    with pytest.raises(ValueError, match="23 condition channels"):
        type(model)(**{**kwargs, "conditioning_channels": 20})
    with pytest.raises(ValueError, match="residual_over_warp"):
        type(model)(**{**kwargs, "residual_over_warp": False})


def _widened(blend_folder, out_folder):
    """The blend model's weights in a prediction model, the extra inputs zero."""
    src = DiffusionDecoder(weights=str(blend_folder)).model
    model = _micro("pred")
    model.load_state_dict(widen_condition_input(src.state_dict(), 23))
    model.save_pretrained(str(out_folder), safe_serialization=True)
    return src, model


def test_a_prediction_model_adds_its_residual_to_the_warp_decoders_frame(blend_weights, tmp_path):
    """With zero weights on ``pred``, the widened model predicts the blend model's residual; it adds
    it to the warp decoder's frame, which is what the blend model's ``base=prediction`` does, and
    moving it back (``base=blend``) gives the blend model's own output."""
    src, model = _widened(blend_weights, tmp_path / "pred")
    w = src.state_dict()[COND_INPUT_WEIGHT]
    got = model.state_dict()[COND_INPUT_WEIGHT]
    torch.testing.assert_close(got[:, :20], w, rtol=0, atol=0)
    assert got[:, 20:].abs().max() == 0 and w.abs().max() > 0
    header, seg = _segment()
    kw = dict(steps=2, strength=0.3, temporal_blend=0.0)
    blend_model = {b: DiffusionDecoder(weights=str(blend_weights), base=b, **kw).decode_segment(header, seg)
                   for b in ("blend", "prediction")}
    pred_dec = DiffusionDecoder(weights=str(tmp_path / "pred"), **kw)
    assert pred_dec.base == "prediction" and "residual over its prediction" in pred_dec.settings()["model"]
    pred_model = {b: DiffusionDecoder(weights=str(tmp_path / "pred"), base=b, **kw).decode_segment(header, seg)
                  for b in ("blend", "prediction")}
    assert np.abs(blend_model["blend"].astype(int) - blend_model["prediction"]).max() > 10  # the bases differ
    for b in ("blend", "prediction"):
        diff = np.abs(pred_model[b].astype(int) - blend_model[b])
        free = np.ones(diff.shape, bool)  # sampling clamps to [0, 255] before a base is moved
        for out in (*pred_model.values(), *blend_model.values()):
            free &= (out > 6) & (out < 249)
        assert free.mean() > 0.5 and diff[free].max() <= 1, b  # float order of the sums, uint8 rounding
        assert diff[free].mean() < 0.05, b


def test_fit_a_prediction_model_from_blend_weights(blend_weights, tmp_path, caplog):
    """``actdiff fit model.residual_base=pred init_weights=<20-channel weights>``: the batches
    carry the 23 channels, the condition input is widened with zeros, training runs and exports."""
    cfg = compose("experiment/train_test", [f"run_dir={tmp_path}/run", f"data.cache_dir={tmp_path}/cache",
                                            "model.residual_over_warp=true", "model.residual_base=pred",
                                            f"init_weights={blend_weights}",
                                            f"export={tmp_path}/export"])
    videos = [synthetic_video(12, 48, 64, seed=i) for i in range(2)]
    with caplog.at_level("WARNING"):
        module = run_fit(cfg, videos=videos, segment_source=synthetic_segment_source)
    assert "condition input widened from 20 to 23 channels" in caplog.text
    batch = next(iter(module.trainer.datamodule.train_dataloader()))
    assert batch["cond"].shape[1] == 23
    pred = batch["cond"][:, 20:23]
    assert pred.abs().max() > 0.1 and not torch.equal(pred, batch["cond"][:, 6:9])
    exported = DiffusionDecoder(weights=str(tmp_path / "export"))
    assert exported.model.reads_prediction and exported.base == "prediction"


@pytest.mark.parametrize("edit", [("residual_base", "foo"), ("conditioning_channels", 23), ("latent", "jpeg")])
def test_damaged_weights_config_is_one_line(blend_weights, tmp_path, edit, capsys, codec_cfg):
    """A weights folder whose config.json does not fit (an unknown value, a layout its weights do not
    have) is one ``error:`` line and a non-zero exit of ``actdiff decode``, not a traceback."""
    import json
    import shutil

    from actdiff.cli import main
    from actdiff.codec import encode_video
    from actdiff.errors import ConfigError
    from actdiff.models.loading import load_denoiser

    folder = tmp_path / "w"
    shutil.copytree(blend_weights, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg[edit[0]] = edit[1]
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="cannot be loaded") as e:
        load_denoiser(folder)
    assert "\n" not in str(e.value) and str(folder) in str(e.value)
    stream = tmp_path / "s.adv"
    stream.write_bytes(encode_video(synthetic_video(6, 32, 48, seed=1), codec_cfg).data)
    assert main(["decode", str(stream), "-o", str(tmp_path / "o.mp4"), "--decoder", "diffusion",
                 "--weights", str(folder)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "cannot be loaded" in err[0]
    assert not (tmp_path / "o.mp4").exists()
