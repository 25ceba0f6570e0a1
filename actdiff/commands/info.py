"""``actdiff info FILE.adv``: describe an encoded file (header, segments, bit split) with units.
``actdiff info WEIGHTS_DIR``: describe a decoder's weights folder (model class, parameters, the
condition layout and residual base, the sampling defaults), read from its config.json and
safetensors headers without building the model.

``--json`` prints one JSON object (machine keys, readable ``settings`` and ``units``) and is safe
to pipe (``actdiff info --json f.adv | head`` ends quietly).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Sequence

from actdiff.commands.common import ArgumentParser, add_stream_args, cli_entry, read_stream


@cli_entry
def main(argv: Sequence[str]) -> int:
    p = ArgumentParser(prog="actdiff info", description=__doc__)
    p.add_argument("input", help="an .adv file or a weights folder")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_stream_args(p)
    args = p.parse_args(argv)
    path = Path(args.input)
    if path.is_dir():
        from actdiff.models.describe import describe_weights, format_weights

        info = describe_weights(path)
        sys.stdout.write(json.dumps(info, indent=2) + "\n" if args.json else format_weights(info))
        return 0
    from actdiff.io.files import check_input_file

    check_input_file(path)
    from actdiff.codec.decoder import decode_segments
    from actdiff.codec.describe import describe_stream, format_description

    data, _ = read_stream(path, lambda d: decode_segments(d, max_pixels=args.max_pixels,  # fails where decode fails
                                                       weights_dirs=args.keyframe_weights))
    info = describe_stream(data, str(path))
    sys.stdout.write(json.dumps(info, indent=2) + "\n" if args.json else format_description(info))
    return 0
