"""Recording conversations: the bridge of caller and agent, to a WAV per call.

Asterisk records the bridge (both voices mixed) into its recording spool; when the
conversation ends the file is moved under the recordings directory, by date, and the
call record points to it. Pausing (for a card number) mutes the recording rather than
stopping it: the paused part is silence, so the recording's timeline stays the call's
and its length matches the talk time.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import wave
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from callcenter.pbx.ari import AriClient, quietly

log = logging.getLogger(__name__)

FILE_WAIT_SECONDS = 5.0


class Recorder:
    def __init__(self, ari: AriClient, spool_file: Callable[[str], Path], directory: Path) -> None:
        self.ari = ari
        self.spool_file = spool_file  # where Asterisk writes recording `name` (.wav)
        self.directory = directory

    async def start(self, bridge_id: str, name: str) -> None:
        params = {"name": name, "format": "wav", "ifExists": "overwrite", "beep": False}
        await self.ari.request("POST", f"bridges/{bridge_id}/record", params=params)

    async def pause(self, name: str, paused: bool) -> None:
        method = "POST" if paused else "DELETE"
        await quietly(self.ari.request(method, f"recordings/live/{name}/mute"))

    async def finish(
        self, name: str, when: datetime, *, after: str | None = None
    ) -> tuple[str, float] | None:
        """Stop the recording and file it; (path relative to the directory, seconds).

        `after` is the call's recording so far (a transferred call talked to an agent
        before): this part is appended to it, so one call keeps one recording whose
        length is its whole talk time.
        """
        # Stopped already (the bridge went first) is as good: quietly.
        await quietly(self.ari.request("POST", f"recordings/live/{name}/stop"))
        if after is None or not (self.directory / after).is_file():
            return await file_spooled(self.spool_file, self.directory, name, when)
        source = self.spool_file(name)
        if not await _settled(source):
            log.error("recording %s never completed at %s", name, source)
            return None
        seconds = await asyncio.to_thread(_append, source, self.directory / after)
        return after, seconds


async def file_spooled(
    spool_file: Callable[[str], Path], directory: Path, name: str, when: datetime
) -> tuple[str, float] | None:
    """Move the finished recording `name` from Asterisk's spool under `directory`, by
    date: (path relative to `directory`, seconds); None if it never completed. Used for
    voicemails too, which Asterisk records from the channel, not a bridge."""
    source = spool_file(name)
    if not await _settled(source):
        log.error("recording %s never completed at %s", name, source)
        return None
    relative = Path(f"{when:%Y/%m/%d}") / f"{name}.wav"
    seconds = await asyncio.to_thread(_move, source, directory / relative)
    return relative.as_posix(), seconds


async def _settled(source: Path) -> bool:
    """Asterisk closes the file a moment after the recording ends: wait until it is a
    complete WAV whose size has settled."""
    last = -1
    for _ in range(int(FILE_WAIT_SECONDS / 0.1)):
        size = await asyncio.to_thread(_complete_size, source)
        if size is not None and size == last:
            return True
        last = size if size is not None else -1
        await asyncio.sleep(0.1)
    return False


def _complete_size(path: Path) -> int | None:
    """The file's size once it parses as a WAV, else None."""
    try:
        with wave.open(str(path), "rb"):
            return path.stat().st_size
    except (OSError, EOFError, wave.Error):
        return None


def _move(source: Path, target: Path) -> float:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(source, target)
    with wave.open(str(target), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def _append(source: Path, target: Path) -> float:
    """`source`'s audio after `target`'s (both Asterisk WAVs of one format), in `target`."""
    with wave.open(str(target), "rb") as first, wave.open(str(source), "rb") as second:
        params = first.getparams()
        frames = [first.readframes(first.getnframes()), second.readframes(second.getnframes())]
    joined = target.with_name(f".{target.name}.joining")
    with wave.open(str(joined), "wb") as out:
        out.setparams(params)
        for chunk in frames:
            out.writeframes(chunk)
    joined.replace(target)
    source.unlink()
    with wave.open(str(target), "rb") as wav:
        return wav.getnframes() / wav.getframerate()
