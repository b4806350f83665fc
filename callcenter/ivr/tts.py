"""Text prompts spoken by espeak-ng, rendered once and kept as 8 kHz WAV files.

Asterisk's `wav` format is 8 kHz 16-bit signed mono PCM; espeak-ng writes 22 kHz, so sox
converts. The file name is a hash of everything that shapes the sound, so an edited text
is a new file and an unchanged one is never rendered twice, across calls and restarts.
Files appear by an atomic rename, so a concurrent reader (another call, another process,
Asterisk) sees a whole file or none.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Literal

Language = Literal["en", "zh"]

# Bump when the rendering pipeline changes, so every cached file is rendered again.
RENDER_VERSION = "1"
# "cmn" would be the obvious Mandarin voice, but espeak-ng 1.51 (Debian 12/13) reads each
# character's tone number aloud in English with it ("ni three hao three"); the pinyin
# variant reads Chinese characters and digits correctly. Latin words in it are still English.
VOICES: dict[str, str] = {"en": "en-us", "zh": "cmn-latn-pinyin"}
RENDER_TIMEOUT = 30.0
SILENCE_SECONDS = 0.2
INSTALL_HINT = "install them with `apt-get install espeak-ng sox`"
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
KEY_NAMES: dict[str, dict[str, str]] = {
    "en": {"*": "star", "#": "pound"},
    "zh": {"*": "星号", "#": "井号"},
}

_inflight: dict[Path, asyncio.Future[None]] = {}
_voices: set[str] = set()  # espeak-ng's voice list, read once per process


class TtsError(Exception):
    """Speech could not be rendered; the message says what to do about it."""


def fill(
    text: str, variables: Mapping[str, str], *, encode: Callable[[str], str] | None = None
) -> str:
    """`{name}` -> the variable's value, `{{`/`}}` -> literal braces.

    A variable that is not set becomes "": a prompt should still be spoken (minus one
    word) rather than fail the caller's call. `encode` transforms each value, e.g. URL
    quoting for the lookup node, so both share one placeholder syntax.
    """

    def one(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        value = str(variables.get(match.group(1), ""))
        return encode(value) if encode is not None else value

    return PLACEHOLDER.sub(one, text)


def say_digits(digits: str, language: Language | str) -> str:
    """Keys spaced apart so both voices read them one by one: "4321#" -> "4 3 2 1 pound".

    Without the spaces espeak-ng reads "4321" as a number ("four thousand...").
    """
    names = KEY_NAMES.get(language, KEY_NAMES["en"])
    return " ".join(names.get(key, key) for key in digits if not key.isspace())


def voice_for(language: str) -> str:
    """The espeak-ng voice of a flow language."""
    try:
        return VOICES[language]
    except KeyError:
        have = ", ".join(VOICES)
        raise TtsError(f"no voice for language {language!r} (have: {have})") from None


def cache_path(text: str, language: str, cache_dir: Path, *, rate: int = 8000) -> Path:
    """Where the rendering of `text` lives: named by a hash of all that shapes the sound."""
    voice = voice_for(language)
    key = "\0".join((RENDER_VERSION, language, voice, str(rate), text)).encode()
    return cache_dir / language / f"{hashlib.sha256(key).hexdigest()[:32]}.wav"


async def render_speech(
    text: str, language: Language, cache_dir: Path, *, rate: int = 8000
) -> Path:
    """The WAV file speaking `text`, rendered now unless it is already in the cache.

    Concurrent requests for the same text in this process share one render; other
    processes may render it too, harmlessly (same content, atomic rename). Blank text
    gives a short silence, so a prompt made only of an unset variable costs the caller
    nothing. Raises `TtsError`.
    """
    voice = voice_for(language)
    target = cache_path(text, language, cache_dir, rate=rate)
    if target.exists():
        return target
    job = _inflight.get(target)
    if job is None or job.get_loop() is not asyncio.get_running_loop():
        job = asyncio.ensure_future(_render(text, voice, target, rate))
        _inflight[target] = job
        job.add_done_callback(partial(_forget, target))
    # shield: one caller hanging up must not cancel the render the others wait for.
    await asyncio.shield(job)
    return target


def render_speech_sync(text: str, language: Language, cache_dir: Path, *, rate: int = 8000) -> Path:
    """`render_speech` for command-line tools that have no event loop running."""
    return asyncio.run(render_speech(text, language, cache_dir, rate=rate))


def _forget(target: Path, job: asyncio.Future[None]) -> None:
    if _inflight.get(target) is job:
        del _inflight[target]
    if not job.cancelled():
        job.exception()  # mark it seen: the waiting callers get it, nobody else needs it


async def _render(text: str, voice: str, target: Path, rate: int) -> None:
    _require_tools()
    await _require_voice(voice)
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = _temp_file(target, ".raw.wav")
    out = _temp_file(target, ".tmp.wav")
    try:
        if text.strip():
            # Text on stdin: no option injection by a text starting with "-", no argv limit.
            await _run("espeak-ng", "-v", voice, "-b", "1", "-w", str(raw), "--stdin", stdin=text)
            await _sox(str(raw), out, rate)
        else:  # sox's null input, cut short: silence
            await _sox("-n", out, rate, "trim", "0", str(SILENCE_SECONDS))
        out.chmod(0o644)  # mkstemp makes 0600; Asterisk may run as another user
        out.replace(target)  # atomic: a reader sees the whole file or none
    finally:
        raw.unlink(missing_ok=True)
        out.unlink(missing_ok=True)


async def _sox(source: str, out: Path, rate: int, *effects: str) -> None:
    """Convert to what Asterisk's `wav` format reads: `rate` Hz, mono, 16-bit signed PCM."""
    fmt = ("-r", str(rate), "-c", "1", "-b", "16", "-e", "signed-integer")
    await _run("sox", source, *fmt, str(out), *effects)


def _require_tools() -> None:
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        raise TtsError(f"{' and '.join(missing)} not found: {INSTALL_HINT}")


async def _require_voice(voice: str) -> None:
    """espeak-ng silently falls back to its default voice for an unknown one: check first."""
    if not _voices:
        listing = await _output("espeak-ng", "--voices")
        # Columns: Pty Language Age/Gender VoiceName File Other-languages
        _voices.update(line.split()[1].lower() for line in listing.splitlines()[1:] if line.strip())
    if voice.lower() not in _voices:
        raise TtsError(f"espeak-ng has no voice {voice!r}: {INSTALL_HINT} (espeak-ng-data)")


def _temp_file(target: Path, suffix: str) -> Path:
    """A unique file next to `target` (same file system, so the rename is atomic)."""
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    return Path(name)


async def _run(*command: str, stdin: str | None = None) -> None:
    """Run one tool to completion, for its side effects."""
    await _output(*command, stdin=stdin)


async def _output(*command: str, stdin: str | None = None) -> str:
    """A tool's standard output; killed on timeout or when the caller is cancelled."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise TtsError(f"cannot run {command[0]} ({exc}): {INSTALL_HINT}") from exc
    data = stdin.encode() if stdin is not None else None
    try:
        out, err = await asyncio.wait_for(proc.communicate(data), RENDER_TIMEOUT)
    except TimeoutError:
        raise TtsError(f"{command[0]} took over {RENDER_TIMEOUT:.0f} s") from None
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        message = err.decode(errors="replace").strip() or f"exit status {proc.returncode}"
        raise TtsError(f"{command[0]} failed: {message}")
    return out.decode(errors="replace")
