"""experiments/x265_frame_quantiser.py: PyAV can set x265's quantiser per frame (addroi side data)."""

from __future__ import annotations

from _eval_helpers import load_script


def test_a_frames_roi_offset_moves_its_size_and_leaves_the_intra_frame_alone():
    probe = load_script("experiments/x265_frame_quantiser.py")
    images = probe.frames(3)
    plain, finer, coarser = (probe.packet_sizes(images, q, 32) for q in (None, -0.4, 0.4))
    assert plain[0] == finer[0] == coarser[0]
    assert finer[1] > 4 * plain[1] and coarser[1] < plain[1]
