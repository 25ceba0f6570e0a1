"""Make the NIQE golden numbers in tests/golden/niqe.json with an INDEPENDENT implementation.

The reference is BasicSR 1.4.2's ``basicsr/metrics/niqe.py`` (which reproduces MATLAB's
``niqe``), run unmodified from its sdist in a throwaway venv, never installed into the project::

    python3 -m venv /tmp/refenv
    /tmp/refenv/bin/pip install numpy scipy opencv-python-headless torch
    /tmp/refenv/bin/pip download --no-deps -d /tmp/refwheels basicsr==1.4.2
    tar xzf /tmp/refwheels/basicsr-1.4.2.tar.gz -C /tmp
    # a minimal package holding only the modules niqe.py imports (basicsr/__init__ pulls in
    # the whole training stack): metrics/{niqe,metric_util}.py + niqe_pris_params.npz,
    # utils/{color_util,matlab_functions,registry}.py, utils/__init__ = "from .color_util import bgr2ycbcr"
    /tmp/refenv/bin/python experiments/make_niqe_golden.py --basicsr /tmp/bsr_stub

Step 1 (``--images-only``, any Python with numpy + scipy + Pillow) writes the test images as
PNG into tests/golden/niqe/: seeded synthetic textures and, when the shared clip is present, a
crop of Big Buck Bunny (© Blender Foundation, CC-BY 3.0). Step 2 reads those PNGs back and
scores them with BasicSR's ``calculate_niqe(img_bgr, crop_border=0, input_order='HWC',
convert_to='y')``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "golden"
CLIP = Path("/work/shared/data/clips/bigbuckbunny.mp4")


def synthetic(seed: int, h: int, w: int, sigma: float) -> np.ndarray:
    """Seeded smooth colour texture: Gaussian-filtered noise + a gradient, uint8 (H, W, 3) RGB."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((h, w, 3))
    tex = np.stack([gaussian_filter(noise[..., c], sigma) for c in range(3)], -1)
    tex = tex / (tex.std() + 1e-12) * 40.0
    grad = np.linspace(60, 190, w)[None, :, None]
    fine = rng.standard_normal((h, w, 1)) * 6.0
    return np.clip(tex + grad + fine, 0, 255).round().astype(np.uint8)


def bunny_crop() -> np.ndarray | None:
    if not CLIP.is_file():
        return None
    import av

    with av.open(str(CLIP)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i == 60:
                return f.to_ndarray(format="rgb24")[200:488, 400:784].copy()
    return None


def write_images() -> None:
    from PIL import Image

    out = GOLDEN / "niqe"
    out.mkdir(parents=True, exist_ok=True)
    images = {
        "synth_s1_192x192": synthetic(1, 192, 192, 1.5),
        "synth_s2_200x290": synthetic(2, 200, 290, 3.0),
        "synth_s3_288x200": synthetic(3, 288, 200, 0.8),
    }
    crop = bunny_crop()
    if crop is not None:
        images["bunny_f60_288x384"] = crop
    for name, img in images.items():
        Image.fromarray(img).save(out / f"{name}.png", optimize=True)
        print("wrote", out / f"{name}.png", img.shape)


def score(basicsr: Path) -> None:
    import cv2

    sys.path.insert(0, str(basicsr))
    from basicsr.metrics.niqe import calculate_niqe

    results = {}
    for png in sorted((GOLDEN / "niqe").glob("*.png")):
        bgr = cv2.imread(str(png), cv2.IMREAD_COLOR)
        results[png.stem] = float(calculate_niqe(bgr, 0, input_order="HWC", convert_to="y"))
        print(png.stem, results[png.stem])
    doc = {
        "reference": "BasicSR 1.4.2 basicsr/metrics/niqe.py calculate_niqe(img_bgr, crop_border=0, "
        "input_order='HWC', convert_to='y'), images read with cv2.imread",
        "produced_by": "experiments/make_niqe_golden.py (see its docstring)",
        "tolerance": 0.01,
        "niqe": results,
    }
    (GOLDEN / "niqe.json").write_text(json.dumps(doc, indent=2) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images-only", action="store_true")
    p.add_argument("--basicsr", type=Path, help="folder holding the minimal basicsr package")
    a = p.parse_args()
    if a.images_only:
        write_images()
    else:
        score(a.basicsr)


if __name__ == "__main__":
    main()
