"""Turning a flow's prompts into what ARI plays: `sound:` URIs Asterisk can read."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path

from callcenter.ivr import model as m
from callcenter.ivr.tts import fill, render_speech
from callcenter.pbx.sandbox import LocalPbx

FILE_RECHECK_SECONDS = 2.0


class PromptMedia:
    """Resolves prompts for one PBX: speech is rendered once (cached under media/), and
    any file is copied into the PBX's tree the first time it is played."""

    def __init__(self, pbx: LocalPbx, media_dir: Path) -> None:
        self.pbx = pbx
        self.media_dir = media_dir
        self._published: set[str] = set()
        self._checked: dict[str, float] = {}
        self._uris: dict[str, str] = {}  # media path -> Asterisk's URI for it (path work)

    async def __call__(self, prompt: m.Prompt, language: str, variables: Mapping[str, str]) -> str:
        if prompt.sound is not None:
            return f"sound:{prompt.sound}"
        if prompt.file is not None:
            relative = prompt.file
        else:
            assert prompt.say is not None
            text = fill(prompt.say, variables)
            lang: m.Language = prompt.language or ("zh" if language == "zh" else "en")
            path = await render_speech(text, lang, self.media_dir / "prompts" / "tts")
            relative = path.relative_to(self.media_dir).as_posix()
        # Speech files are named by their content: once copied, always current. A file
        # an admin may replace is checked again (size, mtime) after FILE_RECHECK_SECONDS.
        now = time.monotonic()
        if relative not in self._published or (
            prompt.say is None and now - self._checked.get(relative, 0.0) > FILE_RECHECK_SECONDS
        ):
            await asyncio.to_thread(self.pbx.publish_media, relative)
            self._published.add(relative)
            self._checked[relative] = now
        uri = self._uris.get(relative)
        if uri is None:
            uri = self._uris[relative] = "sound:" + self.pbx.asterisk_media_path(relative)
        return uri
