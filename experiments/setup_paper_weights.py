#!/usr/bin/env python
"""Make a weights folder for the paper decoder (``--decoder diffusion --weights FOLDER``) from downloaded parts.

Writes FOLDER/config.json (the parts' folders, resolution, sampling defaults of the reference) and
FOLDER/prompt_embeds.safetensors (the T5 embeddings of the empty prompt and of the negative prompt,
so decoding never loads T5). No weights are copied and nothing is downloaded. See docs/paper_decoder.md.

    # the Diffusion-as-Shader release (transformer/ = tracking transformer, vae/, scheduler/, text_encoder/, tokenizer/)
    python experiments/setup_paper_weights.py w/das
    # CogVideoX-5b-I2V + a separately stored DaS transformer, or a branch trained with `actdiff fit`
    python experiments/setup_paper_weights.py w/paper --base w/CogVideoX-5b-I2V --das w/das/transformer
    python experiments/setup_paper_weights.py w/paper --base w/CogVideoX-5b-I2V --branch runs/x/export/branch
"""

from __future__ import annotations

import argparse
import sys

from actdiff.errors import ActDiffError
from actdiff.models.paper_presets import write_paper_folder


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", help="the weights folder to write config.json (and prompt_embeds) into")
    p.add_argument("--base", default=None, help="CogVideoX I2V diffusers folder (default: FOLDER itself)")
    p.add_argument("--das", default=None, help="Diffusion-as-Shader transformer folder (base + branch)")
    p.add_argument("--branch", default=None, help="TrackingBranch folder (trained here)")
    p.add_argument("--text", default=None, help="folder with text_encoder/ and tokenizer/ (default: --base or FOLDER)")
    p.add_argument("--prompt", default="", help="prompt (the reference: empty)")
    p.add_argument("--dtype", default="bfloat16", help="dtype the parts load in: bfloat16 (the reference) | float32")
    p.add_argument("--negative-prompt", default=None, help="negative prompt (default: configs/model/paper.yaml's)")
    args = p.parse_args(argv)
    extra = {"prompt": args.prompt, "dtype": args.dtype}
    if args.negative_prompt is None:
        from actdiff.config import load_group

        extra["negative_prompt"] = str(load_group("model", "paper").negative_prompt)
    else:
        extra["negative_prompt"] = args.negative_prompt
    try:
        out = write_paper_folder(args.folder, base=args.base, das=args.das, branch=args.branch, text=args.text, **extra)
    except ActDiffError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    print(f"paper decoder weights folder ready: {out} (actdiff evaluate --decoder diffusion --weights {out} ...)")
    return 0


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
