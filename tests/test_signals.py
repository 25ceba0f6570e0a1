"""SIGINT/SIGTERM at any moment (imports included) end the CLI with one ``error:`` line and 130/143;
a ``MemoryError`` anywhere is one line too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actdiff import cli
from actdiff.errors import Interrupted

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "actdiff" / "assets" / "sample" / "bigbuckbunny_256x384.mp4"


def _catches(pid: int, sig: int) -> bool:
    """Whether process ``pid`` has a handler for ``sig`` installed (Linux ``/proc``)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & (1 << (sig - 1)))
    except OSError:
        pass
    return False


def _run_and_signal(argv: list[str], sig: int, delay: float, cwd: Path) -> tuple[int, list[str]]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "actdiff", *argv], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not _catches(proc.pid, signal.SIGTERM) and proc.poll() is None and time.time() - t0 < 30:
        time.sleep(0.001)  # as soon as actdiff.cli has installed its handlers: still importing
    time.sleep(delay)
    assert proc.poll() is None, f"the command ended before the signal: {proc.communicate()}"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err.strip().splitlines()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("sig,code,delay", [(signal.SIGINT, 130, 0.0), (signal.SIGTERM, 143, 0.0),
                                            (signal.SIGINT, 130, 0.2), (signal.SIGTERM, 143, 3.0)])
def test_signal_gives_one_line_and_the_exit_code(tmp_path, sig, code, delay):
    """delay 0: during the first imports; 3 s: while encoding (rate control: several encodes).
    No output, no hidden leftovers."""
    argv = ["encode", str(SAMPLE), "-o", "out.adv", "--stats", "s.json", "--target-bpp", "0.003"]
    rc, err = _run_and_signal(argv, sig, delay, tmp_path)
    assert rc == code and len(err) == 1 and err[0].startswith("error:"), (rc, err)
    assert list(tmp_path.iterdir()) == []


def test_a_signal_during_a_native_import_is_held_then_raised(monkeypatch):
    """Raising inside torch's import (a pybind11 callback) would abort the process with no error
    line: while ``_signals_held`` runs, the first signal is recorded and raised when it ends."""
    monkeypatch.setattr(cli, "_SEEN", [])
    reached_end = False
    with pytest.raises(Interrupted) as e:
        with cli._signals_held():
            cli._on_signal(signal.SIGTERM, None)  # not raised here
            reached_end = True
    assert reached_end and e.value.exit_code == 143 and cli._HOLDING == []
    monkeypatch.setattr(cli, "_SEEN", [])
    with cli._signals_held():  # no signal: nothing raised
        pass
    with pytest.raises(Interrupted):  # outside the block a signal raises at once
        cli._on_signal(signal.SIGINT, None)


def test_memory_error_is_one_line(tmp_path, monkeypatch, capsys):
    from actdiff.codec import decoder

    adv = tmp_path / "x.adv"
    adv.write_bytes(b"ADV")
    from types import SimpleNamespace

    fake = SimpleNamespace(header=SimpleNamespace(height=32, width=48))  # what the checks would return
    monkeypatch.setattr(decoder, "check_stream", lambda *a, **k: fake)

    def boom(*a, **k):
        raise MemoryError("Unable to allocate 2.70 GiB for an array with shape (11, 16384, 16384, 3)")

    monkeypatch.setattr(decoder, "decoded_frames", boom)   # what `actdiff decode` decodes with
    assert cli.main(["decode", str(adv), "-o", str(tmp_path / "o.y4m")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: out of memory: Unable to allocate 2.70 GiB"), err


def test_handlers_are_restored_after_a_call_from_python():
    before = signal.getsignal(signal.SIGTERM)
    assert cli.main(["--help"]) == 0
    assert signal.getsignal(signal.SIGTERM) is before


def test_interrupt_turned_into_another_error_by_a_library_is_still_one_line(tmp_path, monkeypatch, capsys):
    """omegaconf, interrupted while composing, raises AttributeError instead of the interrupt."""
    from actdiff.commands import encode

    def compose_interrupted(argv):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
        except KeyboardInterrupt:
            raise AttributeError("'NoneType' object has no attribute '_invalidate_flags_cache'") from None
        return 0

    monkeypatch.setattr(encode, "main", compose_interrupted)
    assert cli.main(["encode", "x.mp4", "-o", str(tmp_path / "o.adv")]) == 143
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), err
    with pytest.raises(AttributeError):  # without a signal, a bug stays a traceback
        monkeypatch.setattr(encode, "main", lambda argv: (_ for _ in ()).throw(AttributeError("bug")))
        cli.main(["encode", "x.mp4", "-o", str(tmp_path / "o.adv")])


def test_a_signal_while_composing_a_config_stays_an_interrupt(monkeypatch):
    """Hydra turns an exception raised inside ``compose`` (the CLI's ``Interrupted``) into a
    ``ConfigCompositionException``: it must still end as an interrupt (130/143), not a config error."""
    import hydra
    from hydra.errors import ConfigCompositionException

    from actdiff.config import compose
    from actdiff.errors import Interrupted

    def interrupted(*args, **kwargs):
        try:
            raise Interrupted(signal.SIGTERM)
        except Interrupted as e:
            raise ConfigCompositionException("") from e

    monkeypatch.setattr(hydra, "compose", interrupted)
    with pytest.raises(Interrupted) as caught:
        compose(None, [])
    assert caught.value.exit_code == 143
