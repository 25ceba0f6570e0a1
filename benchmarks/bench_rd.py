"""RD mode vs fast mode vs x265 on clips the decoders were not trained on (cpu protocol).

Encodes every evaluation clip (the four OpenCV samples and carphone; 256x384 crop, first
``--frames`` frames) once per rate point of ``configs/rates/rd.yaml`` in RD mode, decodes each
stream with the warp decoder and with the SHIPPED diffusion decoder (its default settings), and
scores PSNR, MS-SSIM, VMAF and VMAF NEG, writing results documents in the usual schema
(``actdiff_rd_{warp,diffusion}_{dataset}.json``, usable with ``actdiff bdrate``/``plot``). The
streams and their statistics (encode time, load average) are kept in ``OUT/streams``, so the
diffusion pass (slow on 2 CPU cores) decodes the very files the warp pass scored, and an
interrupted run resumes. A kept stream is used only when it was encoded with the same resolved
codec settings and the same package code (:mod:`actdiff.evaluation.stream_store`); otherwise it is encoded
again and the run says so.

The summary (``summary.json``) compares, per clip and decoder, the BD-rate against x265 of today's
fast mode (the existing results of ``experiments/results_opencv_samples`` and
``experiments/results_fr_carphone``, same protocol and settings; they are re-made by
``experiments/refresh_unseen_cpu.sh``, and a change to the encoder leaves them as of their date:
the results dated before 2026-12-03 code trajectories with the ``adaptive`` coder, today's default
``adaptive_grid`` codes the same positions in fewer bits) and of the RD mode, on VMAF NEG and
MS-SSIM with both ActDiff curves restricted to 0.002–0.03 bpp. Sign convention here: BD-rate =
ActDiff's extra bits against x265 at equal quality (negative = ActDiff saves bits); "improvement" =
fast's BD-rate minus RD's (percentage points, positive = RD better); "RD vs fast" = the BD-rate of
the RD curve against the fast curve itself (both restricted as above, over the quality range both
reach; negative = RD needs fewer bits), which does not depend on where x265 is strong; "gain,
shared range" = the improvement with both BD-rates against x265 taken over the same quality
interval, the one that fast, RD and x265 all reach (``bd_rate_between``), so that it measures the
two curves and not how far each extends into the rates where x265 pulls away. Figures
``rd_{vmaf_neg,ms_ssim}_{decoder}.png`` show the three curves per clip and on average. It also
checks, for every RD point up to 0.01 bpp, whether ActDiff needs at most x265's bits at its VMAF
NEG (matched point, PCHIP of x265's log-bpp; outside x265's tested range the bound that its points
prove).

    ACTDIFF_OPENCV_SAMPLES_ROOT=/path ACTDIFF_SHARED_CLIPS=/path nice -n 10 \\
      python benchmarks/bench_rd.py -o experiments/results_rd

On two cores, two runs of different clips (``--sequences``, one thread each) may share ``-o``: each
finished clip is written into the shared results documents under a lock; then ``--summary-only``::

    OMP_NUM_THREADS=1 python benchmarks/bench_rd.py -o OUT --decoders diffusion --sequences vtest cup &
    OMP_NUM_THREADS=1 python benchmarks/bench_rd.py -o OUT --decoders diffusion --sequences box megamind carphone
    wait; python benchmarks/bench_rd.py -o OUT --decoders warp diffusion --summary-only
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from actdiff.codec.ratecontrol import encode
from actdiff.data import load_dataset, load_protocol
from actdiff.decoders import build_decoder
from actdiff.evaluation.bdrate import bd_rate, bd_rate_between, matched_points, quality_overlap
from actdiff.evaluation.rates import load_rates, point_configs
from actdiff.evaluation.results import load_results, load_results_at, new_results, save_results, to_curves
from actdiff.evaluation.runner import actdiff_points
from actdiff.evaluation.stream_store import stale_reason, stream_fingerprint
from actdiff.types import EncodeResult

ROOT = Path(__file__).resolve().parent.parent
METRICS = ["psnr", "ms_ssim", "vmaf", "vmaf_neg"]
#: dataset → (sequences, folder with today's fast-mode results and x265's)
SETS = {"opencv_samples": (None, ROOT / "experiments/results_opencv_samples"),
        "shared_clips": (["carphone"], ROOT / "experiments/results_fr_carphone")}
BPP_RANGE = (0.002, 0.03)
#: Decoder settings that change the decoded frames: results decoded with different values are
#: never resumed, reused or compared (the weights' path is left out: a checkout's location).
SETTING_KEYS = ("name", "prediction", "prediction_params", "keyflow", "edge_sigma_r", "sampler", "steps",
                "strength", "noise_mode", "temporal_blend", "base", "detail_sigma", "detail_mix",
                "detail_mix_of")


def settings_of(results: dict) -> dict:
    """The frame-changing decoder settings recorded in a results document."""
    return {k: v for k, v in (results.get("config", {}).get("decoder_settings") or {}).items() if k in SETTING_KEYS}


def settings_mismatch(a: dict, b: dict) -> str:
    """``""`` when settings ``a`` and ``b`` agree on :data:`SETTING_KEYS`, else ``key a≠b, …``."""
    return ", ".join(f"{k} {a.get(k)}≠{b.get(k)}" for k in SETTING_KEYS if a.get(k) != b.get(k))


def _curve(results: dict, seq: str, metric: str, restrict: bool) -> tuple:
    r, q = to_curves(results, metric)[seq]
    if restrict:
        keep = (r >= BPP_RANGE[0]) & (r <= BPP_RANGE[1])
        r, q = r[keep], q[keep]
    return r, q


def _shared_range(x265: tuple, fast: tuple, rd: tuple, metric: str) -> dict:
    """Fast's and RD's BD-rates against x265 over the quality interval all three reach, and the
    gain (pp, positive: RD better); ``{}`` when they share no interval."""
    try:
        interval = quality_overlap([x265, fast, rd], metric)
        if interval is None:
            return {}
        f, r = (bd_rate_between(x265, c, metric, interval) for c in (fast, rd))
    except Exception:  # noqa: BLE001  (too few points: the other columns say why)
        return {}
    return {"shared_range": list(interval), "fast_shared": f, "rd_shared": r, "improvement_shared_pp": f - r}


def summarise(out: Path, decoders: list[str], since: str | None = None) -> dict:
    """BD-rates against x265 (fast vs RD) and the matched-VMAF-NEG check, per clip and decoder.
    With ``since`` (a git revision) also the fast mode's BD-rate as its committed results read at
    that revision (``before``) and the RD curve's gain over it (``gain_since_pp``): the issue's
    "improves over today's encoder" read as the encoder of the day it was filed."""
    rows = {}
    for dataset, (_, ref_dir) in SETS.items():
        x265 = load_results(ref_dir / "x265.json")
        for dec in decoders:
            rd_path = out / f"actdiff_rd_{dec}_{dataset}.json"
            if not rd_path.exists():
                continue
            rd, fast = load_results(rd_path), load_results(ref_dir / f"actdiff_{dec}.json")
            before = load_results_at(since, (ref_dir / f"actdiff_{dec}.json").relative_to(ROOT), ROOT) \
                if since else None
            diff = settings_mismatch(settings_of(fast), settings_of(rd))
            if diff:
                raise SystemExit(f"error: {rd_path} and {ref_dir / f'actdiff_{dec}.json'} were decoded with "
                                 f"different decoder settings ({diff}); re-run this benchmark with --restart")
            for seq in rd["sequences"]:
                row = {}
                for metric in ("vmaf_neg", "ms_ssim"):
                    anchor = _curve(x265, seq, metric, False)
                    bd = {}
                    for label, res in (("fast", fast), ("rd", rd)):
                        try:
                            bd[label] = float(bd_rate(anchor, _curve(res, seq, metric, True), metric))
                        except Exception as e:  # noqa: BLE001  (reported in the summary)
                            bd[label] = None
                            bd[f"{label}_error"] = str(e)
                    if bd["fast"] is not None and bd["rd"] is not None:
                        bd["improvement_pp"] = bd["fast"] - bd["rd"]
                    if before is not None and seq in before["sequences"] and bd["rd"] is not None:
                        bd["before"] = float(bd_rate(anchor, _curve(before, seq, metric, True), metric))
                        bd["gain_since_pp"] = bd["before"] - bd["rd"]
                    bd.update(_shared_range(anchor, _curve(fast, seq, metric, True), _curve(rd, seq, metric, True),
                                            metric))
                    try:  # the two encoders directly, over the quality range both reach
                        bd["rd_vs_fast"] = float(bd_rate(_curve(fast, seq, metric, True),
                                                         _curve(rd, seq, metric, True), metric))
                    except Exception as e:  # noqa: BLE001  (reported in the summary)
                        bd["rd_vs_fast"] = None
                        bd["rd_vs_fast_error"] = str(e)
                    row[metric] = bd
                pts = matched_points(_curve(rd, seq, "vmaf_neg", False), _curve(x265, seq, "vmaf_neg", False),
                                     "vmaf_neg", ("rd", "x265"))
                low = [p for p in pts if p["bpp"] <= 0.01]
                row["matched_vmaf_neg_up_to_0.01"] = low
                row["no_worse_than_x265_up_to_0.01"] = all(p["saving"] >= 0 or p["bound"] == "lower" for p in low) \
                    if low else None
                seconds = [p["encode_seconds"] for p in rd["sequences"][seq]]
                row["rd_encode_fps"] = [p["frames"] / s for p, s in zip(rd["sequences"][seq], seconds)]
                rows[f"{dec}/{seq}"] = row
    for dec in decoders:
        for metric in ("vmaf_neg", "ms_ssim"):
            vals = [r[metric] for k, r in rows.items() if k.startswith(dec + "/") and not k.endswith("/mean")
                    and r[metric].get("improvement_pp") is not None]
            if vals:
                rows[f"{dec}/mean"] = rows.get(f"{dec}/mean", {})
                direct = [v["rd_vs_fast"] for v in vals if v.get("rd_vs_fast") is not None]
                shared = [v["improvement_shared_pp"] for v in vals if v.get("improvement_shared_pp") is not None]
                then = [v for v in vals if v.get("gain_since_pp") is not None]
                rows[f"{dec}/mean"][metric] = {
                    "fast": float(np.mean([v["fast"] for v in vals])), "rd": float(np.mean([v["rd"] for v in vals])),
                    "improvement_pp": float(np.mean([v["improvement_pp"] for v in vals])),
                    "rd_vs_fast": float(np.mean(direct)) if direct else None,
                    "improvement_shared_pp": float(np.mean(shared)) if shared else None,
                    "shared_clips": len(shared)}
                if then:  # over the clips with both (as the other means)
                    rows[f"{dec}/mean"][metric].update(
                        before=float(np.mean([v["before"] for v in then])), since_clips=len(then),
                        gain_since_pp=float(np.mean([v["gain_since_pp"] for v in then])))
    return rows


def figures(out: Path, decoders: list[str]) -> list[Path]:
    """``rd_{metric}_{decoder}.png``: per clip and mean, fast mode, RD mode and x265 (all clips)."""
    from actdiff.evaluation.plotting import draw, save_figure

    paths = []
    for dec in decoders:
        docs: dict[str, dict] = {}
        for dataset, (_, ref_dir) in SETS.items():
            rd_path = out / f"actdiff_rd_{dec}_{dataset}.json"
            if not rd_path.exists():
                continue
            rd = load_results(rd_path)
            for label, path in ((f"ActDiff fast mode ({dec})", ref_dir / f"actdiff_{dec}.json"),
                                (f"ActDiff RD mode ({dec})", rd_path),
                                ("x265 (medium, CRF 26-51)", ref_dir / "x265.json")):
                seqs = {k: v for k, v in load_results(path)["sequences"].items() if k in rd["sequences"]}
                docs.setdefault(label, {"codec": label, "sequences": {}})["sequences"].update(seqs)
        if not docs:
            continue
        for metric in ("vmaf_neg", "ms_ssim"):
            fig = draw(list(docs.values()), metric, title=f"{metric}: fast vs RD mode vs x265, cpu protocol "
                       f"(256x384, 96 frames), {dec} decoder")
            paths.append(save_figure(fig, out / f"rd_{metric}_{dec}.png", overwrite=True))
    return paths


def _streams(out: Path, video, name: str, cfgs: dict, wait: bool = False) -> dict:
    """Every rate point's RD stream of clip ``name``: read from ``out/streams`` when encoded
    before with the same fingerprint (:mod:`actdiff.evaluation.stream_store`), else encoded
    (timed) and saved there, saying why a kept one was not used; with ``wait`` another run is
    encoding them: wait until they are there."""
    folder = out / "streams"
    folder.mkdir(exist_ok=True)
    encoded = {}
    for point, cfg in cfgs.items():
        adv, js = folder / f"{name}_{point}.adv", folder / f"{name}_{point}.json"
        fingerprint = stream_fingerprint(cfg.codec)
        while wait and not (adv.exists() and stale_reason(js, fingerprint) is None):
            time.sleep(30)
        time.sleep(1 if wait else 0)
        why = stale_reason(js, fingerprint) if adv.exists() else "not encoded yet"
        if why is not None:
            if adv.exists():
                print(f"{name} {point}: kept stream not used, {why}: encoding it again", flush=True)
            t0 = time.perf_counter()
            res = encode(video, cfg)
            res.stats["encode_seconds"] = time.perf_counter() - t0
            res.stats["loadavg_after"] = list(os.getloadavg())
            res.stats["fingerprint"] = fingerprint
            adv.with_suffix(".tmp").write_bytes(res.data)
            js.with_suffix(".tmp.json").write_text(json.dumps(res.stats, indent=1, default=float) + "\n")
            adv.with_suffix(".tmp").rename(adv)  # stream first: a run stopped in between leaves an
            js.with_suffix(".tmp.json").rename(js)  # old fingerprint beside it, so it is encoded again
            print(f"{name} {point}: {res.stats['bpp']:.5f} bpp, encoded in {res.stats['encode_seconds']:.0f} s",
                  flush=True)
        encoded[point] = EncodeResult(data=adv.read_bytes(), stats=json.loads(js.read_text()))
    return encoded


def reused_points(old: Path | None, dec: str, dataset: str, seq: str, encoded: dict,
                  settings: dict | None = None) -> dict[str, dict]:
    """Points of an earlier run in ``old`` (its ``actdiff_rd_{dec}_{dataset}.json`` and ``streams/``)
    whose stream is byte-identical to this run's stream of the same clip: ``{point: result}``;
    none when ``settings`` (this run's decoder settings) differ from the earlier run's.

    Decoding is deterministic (the seed is in the stream), so a byte-identical stream decodes to
    the same frames; the point keeps the earlier decode's metrics and decode time, takes this
    run's point name and encode time, and says where it came from (``reused_from``)."""
    path = old / f"actdiff_rd_{dec}_{dataset}.json" if old else None
    exists = path is not None and path.exists()
    doc = load_results(path) if exists else {"sequences": {}}
    diff = settings_mismatch(settings_of(doc), settings) if exists and settings is not None else ""
    if diff:
        print(f"{seq}: nothing reused from {path}: other decoder settings ({diff})", flush=True)
        return {}
    points = doc["sequences"].get(seq, [])
    by_stream = {}  # stream bytes -> (earlier point name, its result)
    for p in points:
        adv = old / "streams" / f"{seq}_{p['quality_param']}.adv"
        if adv.exists():
            by_stream[adv.read_bytes()] = (p["quality_param"], p)
    out = {}
    for name, enc in encoded.items():
        if enc.data in by_stream:
            old_name, p = by_stream[enc.data]
            out[name] = {**p, "quality_param": name, "encode_seconds": enc.stats.get("encode_seconds"),
                         "reused_from": f"{path.name}:{old_name}"}
    return out


def check_resumable(doc: dict, path: Path, settings: dict, overrides: list[str]) -> None:
    """Exit with a one-line error when results document ``doc`` (read from ``path``) was decoded
    with other decoder ``settings`` or encoded with other config ``overrides`` than this run's."""
    if doc.get("config", {}).get("overrides", []) != overrides:
        raise SystemExit(f"error: {path} was encoded with other overrides; use another -o or --restart")
    diff = settings_mismatch(settings_of(doc), settings)
    if diff:
        raise SystemExit(f"error: {path} was decoded with other decoder settings ({diff}); "
                         "pass --restart to re-measure it")


@contextmanager
def locked(out: Path, path: Path) -> Iterator[None]:
    """An exclusive lock on results document ``path`` (a lock file in ``out/streams``, which is not
    committed), for runs of different clips (``--sequences``) that share ``out``."""
    lock = out / "streams" / f"{path.name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def start_document(out: Path, path: Path, fresh: dict, settings: dict, overrides: list[str], restart: bool,
                   clips: list[str]) -> None:
    """Before a run of ``clips``: with ``restart``, drop them from the document at ``path`` (the whole
    document when it was made with other decoder settings or overrides: they cannot be mixed), else
    check that it can be resumed (:func:`check_resumable`). ``fresh``: the document when none is kept."""
    with locked(out, path):
        kept = path.exists()
        doc = load_results(path) if kept else fresh
        if restart:
            if settings_mismatch(settings_of(doc), settings) or doc.get("config", {}).get("overrides", []) != overrides:
                doc = fresh
            doc["sequences"] = {k: v for k, v in doc["sequences"].items() if k not in clips}
        else:
            check_resumable(doc, path, settings, overrides)
        if restart or not kept:
            save_results(doc, path, overwrite=True)


def save_sequence(out: Path, path: Path, seq: str, points: list[dict], settings: dict, overrides: list[str]) -> None:
    """Put clip ``seq``'s ``points`` into the document at ``path``, read again under the lock: runs of
    other clips may have added theirs since (:func:`start_document` made it)."""
    with locked(out, path):
        doc = load_results(path)
        check_resumable(doc, path, settings, overrides)
        doc["sequences"][seq] = points
        save_results(doc, path, overwrite=True)


def clips_of(dataset: str, sequences: list[str] | None):
    """The clips of ``dataset`` that a run measures (of ``sequences`` only, when given)."""
    names = SETS[dataset][0]
    if sequences is not None:
        names = [n for n in sequences if names is None or n in names]
        if not names:
            return []
    return list(load_dataset(dataset, sequences=names))


def check_sequences(datasets: list[str], sequences: list[str] | None) -> None:
    """One-line exit before any work when a name of ``--sequences`` is in none of ``datasets``."""
    if sequences is None:
        return
    known = {seq.name for d in datasets for seq in clips_of(d, None)}
    unknown = [n for n in sequences if n not in known]
    if unknown:
        raise SystemExit(f"error: --sequences {', '.join(unknown)}: not in {', '.join(datasets)} "
                         f"(clips: {', '.join(sorted(known))})")


def run(out: Path, frames: int, decoders: list[str], datasets: list[str], wait: bool = False,
        reuse: Path | None = None, restart: bool = False, overrides: list[str] | None = None,
        sequences: list[str] | None = None) -> None:
    """Encode (once) and decode every clip (of ``sequences``, when given) at every rate point, one
    decoder after the other (warp first: cheap), saving each clip into the results documents as it
    is done (a re-run resumes; ``restart`` re-measures this run's clips; the streams are kept either
    way). Runs of different ``sequences`` may share ``out`` at the same time, one per core: each
    clip is written under a lock (:func:`save_sequence`).
    A results document decoded with other decoder settings is never resumed (an error says so).
    With ``reuse``, points whose stream an earlier run in that folder decoded with the same
    decoder settings are not decoded again (:func:`reused_points`). ``overrides`` (``key=value``)
    change the RD encodes' config; they are recorded, and a document made with others is not resumed."""
    rates = load_rates(ROOT / "configs/rates/rd.yaml")
    overrides = list(overrides or [])
    check_sequences(datasets, sequences)
    cfgs = point_configs(rates, None, "cpu", [f"protocol.max_frames={frames}", *overrides])
    protocol = load_protocol(next(iter(cfgs.values())).protocol)
    for dec in decoders:
        decoder = build_decoder(dec)
        current = getattr(decoder, "settings", dict)()
        for dataset in datasets:
            clips = clips_of(dataset, sequences)
            if not clips:
                continue
            path = out / f"actdiff_rd_{dec}_{dataset}.json"
            fresh = new_results(
                f"actdiff-rd-{dec}", load_dataset(dataset, sequences=SETS[dataset][0]).name, protocol.to_dict(),
                {"rates": rates, "decoder": dec, "metrics": METRICS, "mode": "rd", "decoder_settings": current,
                 "overrides": overrides})
            start_document(out, path, fresh, current, overrides, restart, [c.name for c in clips])
            for seq in clips:
                if seq.name in load_results(path)["sequences"]:
                    continue
                video = seq.read(protocol)
                encoded = _streams(out, video, seq.name, cfgs, wait)
                reused = reused_points(reuse, dec, dataset, seq.name, encoded, current)
                todo = {k: c for k, c in cfgs.items() if k not in reused}
                new = iter(actdiff_points(video, todo, {dec: decoder}, METRICS, encoded=encoded,
                                          log=lambda s, n=seq.name: print(n, s, flush=True))[dec])
                if reused:
                    names = ", ".join(f"{k} ({p['reused_from']})" for k, p in reused.items())
                    print(f"{seq.name}: reused {names}", flush=True)
                points = [reused[k] if k in reused else next(new) for k in cfgs]
                save_sequence(out, path, seq.name, points, current, overrides)


def markdown(summary: dict) -> str:
    """The summary as a Markdown table (BD-rates against x265 in %, negative = fewer bits than x265)."""
    def f(v):
        return "—" if v is None else f"{v:+.1f}"

    lines = ["| decoder / clip | VMAF NEG fast | VMAF NEG RD | gain (pp) | gain, shared range (pp) | RD vs fast "
             "| MS-SSIM fast | MS-SSIM RD | gain (pp) | gain, shared range (pp) | RD vs fast "
             "| RD ≤ x265 bits at its VMAF NEG, every point ≤ 0.01 bpp | RD encode frames/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for key, r in summary.items():
        cells = []
        for m in ("vmaf_neg", "ms_ssim"):
            b = r.get(m, {})
            cells += [f(b.get("fast")), f(b.get("rd")), f(b.get("improvement_pp")), f(b.get("improvement_shared_pp")),
                      f(b.get("rd_vs_fast"))]
        ok = r.get("no_worse_than_x265_up_to_0.01")
        fps = r.get("rd_encode_fps") or []
        lines.append(f"| {key} | " + " | ".join(cells) + f" | {'—' if ok is None else 'yes' if ok else 'no'} | "
                     + (f"{min(fps):.1f}–{max(fps):.1f}" if fps else "—") + " |")
    since = [(k, r) for k, r in summary.items()
             if any("gain_since_pp" in r.get(m, {}) for m in ("vmaf_neg", "ms_ssim"))]
    if since:
        lines += ["", "| decoder / clip | VMAF NEG fast then | VMAF NEG RD | gain since (pp) "
                  "| MS-SSIM fast then | MS-SSIM RD | gain since (pp) |", "|---|---|---|---|---|---|---|"]
        for key, r in since:
            cells = [f(r.get(m, {}).get(c)) for m in ("vmaf_neg", "ms_ssim") for c in ("before", "rd", "gain_since_pp")]
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    """The command line (a function, so that tests can parse with it)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--out", default="experiments/results_rd")
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--decoders", nargs="+", default=["warp", "diffusion"])
    ap.add_argument("--datasets", nargs="+", default=list(SETS))
    ap.add_argument("--summary-only", action="store_true")
    ap.add_argument("--reuse", type=Path, default=None,
                    help="an earlier output folder: points with byte-identical streams keep its decodes")
    ap.add_argument("--restart", action="store_true",
                    help="start the results documents afresh (the encoded streams are kept)")
    ap.add_argument("--set", dest="overrides", nargs="*", default=[], metavar="KEY=VALUE",
                    help="config overrides of the RD encodes, e.g. codec.rd.decoder=... (use another -o: "
                         "the streams are kept there)")
    ap.add_argument("--since", default=None, metavar="REV",
                    help="also the RD curve's gain over the fast mode's committed results at git revision REV")
    ap.add_argument("--sequences", nargs="+", default=None, metavar="CLIP",
                    help="only these clips (runs of different clips may share -o, one per core; then "
                         "--summary-only once all are done)")
    ap.add_argument("--wait-streams", action="store_true",
                    help="another run encodes the streams: wait for them (decode-only pass in parallel)")
    return ap


def main() -> None:
    args = parser().parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.summary_only:
        run(out, args.frames, args.decoders, args.datasets, args.wait_streams, args.reuse, args.restart,
            args.overrides, args.sequences)
        if args.sequences is not None:
            print("summary not written (a run of some clips): run --summary-only once every part is done")
            return
    summary = summarise(out, args.decoders, args.since)
    figures(out, args.decoders)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "summary.md").write_text(markdown(summary))
    for k, r in summary.items():
        print(k, {m: {kk: (round(v, 1) if isinstance(v, float) else v) for kk, v in r[m].items()}
                  for m in ("vmaf_neg", "ms_ssim") if m in r},
              "no worse ≤0.01:", r.get("no_worse_than_x265_up_to_0.01"))


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
