"""Choose how the RD mode picks its inter keyframes (``codec.rd.inter_rd``), on TRAINING clips only.

For each of six training clips (cpu protocol, 96 frames) and λ = 2.5, 8, 32: one RD search, its
stream written with inter keyframes chosen as the smallest P-frame no worse than the intra coding
(``inter_rd=false``) and as the P-frame of least RD cost ``w · D + λ · R`` when below the intra's
(``inter_rd=true``), both scored with the warp decoder; the BD-rate of ``true`` against ``false``.
This is :mod:`rd_flag_ab` with the setting ``inter_rd`` (its "off"/"on" are false/true; the committed
``experiments/results_rd/keyframe_inter_rd_train.json`` was written by this script's earlier
standalone version, with the same measurements under the keys "false"/"true").

    PYTHONPATH=. python experiments/keyframe_inter_rd.py -o experiments/results_rd/keyframe_inter_rd_train.json
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rd_flag_ab import main  # noqa: E402  (the sibling script)

if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main, ["inter_rd", *sys.argv[1:]])
