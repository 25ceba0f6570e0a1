"""Setting up a paper weights folder from downloaded parts (T5 prompt embeddings, no copies), and the
GPU benchmark script's CPU smoke run (tiny config)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from actdiff.config import load_group
from actdiff.errors import MissingWeightsError
from actdiff.models import build_model
from actdiff.models.generator import load_generator
from actdiff.models.prompt_embeds import PROMPT_FILE, encode_prompts

ROOT = Path(__file__).resolve().parent.parent


def tiny_t5(folder: Path) -> None:
    """A random 1-layer T5 encoder (d_model 16) and a word-level tokenizer, saved as text_encoder/ + tokenizer/."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, "blurry": 3, "video": 4, "sharp": 5}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>",
                            unk_token="<unk>").save_pretrained(str(folder / "tokenizer"))
    torch.manual_seed(0)
    T5EncoderModel(T5Config(vocab_size=8, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2)).save_pretrained(
        str(folder / "text_encoder"))


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    root = tmp_path_factory.mktemp("cogvideox")
    build_model(load_group("model", "paper_tiny")).save_pretrained(str(root))
    tiny_t5(root)
    return root


def test_setup_writes_config_and_t5_prompt_embeddings_without_copying(parts, tmp_path):
    out = tmp_path / "paper"
    rc = subprocess.run([sys.executable, str(ROOT / "experiments" / "setup_paper_weights.py"), str(out),
                         "--base", str(parts), "--branch", str(parts / "branch"), "--negative-prompt", "blurry video",
                         "--dtype", "float32"],
                        capture_output=True, text=True, cwd=ROOT)
    assert rc.returncode == 0, rc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["config.json", PROMPT_FILE]     # no weights copied
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["parts"]["transformer"] == str(parts / "transformer") and cfg["negative_prompt"] == "blurry video"
    model = load_generator(str(out))
    want = encode_prompts(parts, ["blurry video", ""], 8, device="cpu")
    torch.testing.assert_close(model.prompt_embeds.float(), want)
    assert (want[0] - want[1]).abs().max() > 0          # guidance has something to contrast
    assert model.config.resolution == [480, 720] and model.sampling_defaults()["steps"] == 20   # the reference's


def test_setup_refuses_missing_parts_in_one_line(parts, tmp_path):
    rc = subprocess.run([sys.executable, str(ROOT / "experiments" / "setup_paper_weights.py"), str(tmp_path / "p"),
                         "--base", str(parts)], capture_output=True, text=True, cwd=ROOT)
    assert rc.returncode == 2 and rc.stderr.startswith("error: no tracking branch") and rc.stderr.count("\n") == 1
    from actdiff.models.paper_presets import write_paper_folder

    with pytest.raises(MissingWeightsError, match="transformer folder not found"):
        write_paper_folder(tmp_path / "q", base=tmp_path / "nothing")


def test_the_gpu_benchmark_runs_on_cpu_with_the_tiny_configs(tmp_path):
    out = tmp_path / "bench.json"
    rc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_paper_gpu.py"), "--tiny", "--device", "cpu",
                         "--no-compile", "--train-steps", "1", "--out", str(out)], capture_output=True, text=True,
                        cwd=ROOT)
    assert rc.returncode == 0, rc.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["tiny"] and res["window"] == {"frames": 9, "height": 32, "width": 48} and not res["skipped"]
    paper, wan = res["models"]["paper"], res["models"]["paper-wan"]
    assert [d["variant"] for d in paper["decode"]][:2] == ["reference", "10_steps"]
    ref = paper["decode"][0]
    assert ref["options"]["guidance_scale"] == 6.0 and ref["frames_per_second"] > 0
    assert paper["training"]["steps_per_second"] > 0 and paper["training"]["trainable_parameters"] > 0
    assert len(wan["decode"]) == 4 and "training" not in wan
