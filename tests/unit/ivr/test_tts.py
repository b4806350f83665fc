"""Speech prompts: real espeak-ng and sox, so the files are what Asterisk will read."""

from __future__ import annotations

import asyncio
import re
import subprocess
import wave
from pathlib import Path

import pytest

from callcenter.ivr import tts
from callcenter.ivr.tts import TtsError, cache_path, fill, render_speech, say_digits


def wav_info(path: Path) -> tuple[int, int, int, float]:
    """(rate, channels, bytes per sample, seconds) as Python's wave module reads them."""
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        return rate, w.getnchannels(), w.getsampwidth(), w.getnframes() / rate


@pytest.fixture
def count_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Every tool run by the renderer, still really run."""
    runs: list[tuple[str, ...]] = []
    real_run = tts._run

    async def counting(*command: str, stdin: str | None = None) -> None:
        runs.append(command)
        await real_run(*command, stdin=stdin)

    monkeypatch.setattr(tts, "_run", counting)
    return runs


@pytest.mark.parametrize(
    ("language", "text"),
    [("en", "Welcome to Example. For sales press 1."), ("zh", "您好，欢迎致电。销售请按一。")],
)
async def test_renders_8khz_mono_16bit(tmp_path: Path, language: str, text: str) -> None:
    path = await render_speech(text, language, tmp_path)  # type: ignore[arg-type]
    rate, channels, width, seconds = wav_info(path)
    assert (rate, channels, width) == (8000, 1, 2)
    assert seconds > 0.3
    assert path.parent == tmp_path / language
    assert path == cache_path(text, language, tmp_path)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp files left


async def test_second_call_uses_the_cache(tmp_path: Path, count_runs: list) -> None:
    first = await render_speech("Please hold.", "en", tmp_path)
    assert len(count_runs) == 2  # espeak-ng, then sox
    mtime = first.stat().st_mtime_ns
    second = await render_speech("Please hold.", "en", tmp_path)
    assert second == first
    assert len(count_runs) == 2
    assert first.stat().st_mtime_ns == mtime


async def test_concurrent_requests_render_once(tmp_path: Path, count_runs: list) -> None:
    paths = await asyncio.gather(*(render_speech("One moment.", "en", tmp_path) for _ in range(8)))
    assert len(set(paths)) == 1
    assert [run[0] for run in count_runs] == ["espeak-ng", "sox"]
    assert [p.name for p in (tmp_path / "en").iterdir()] == [paths[0].name]


async def test_a_cancelled_caller_does_not_cancel_the_render(tmp_path: Path) -> None:
    leaving = asyncio.ensure_future(render_speech("Goodbye.", "en", tmp_path))
    staying = asyncio.ensure_future(render_speech("Goodbye.", "en", tmp_path))
    await asyncio.sleep(0)
    leaving.cancel()
    path = await staying
    assert wav_info(path)[3] > 0.3


def test_cache_key_covers_text_language_and_rate(tmp_path: Path) -> None:
    base = cache_path("Hello", "en", tmp_path)
    assert cache_path("Hello", "en", tmp_path) == base
    assert cache_path("Hello!", "en", tmp_path) != base
    assert cache_path("Hello", "zh", tmp_path).name != base.name
    assert cache_path("Hello", "en", tmp_path, rate=16000) != base


async def test_text_starting_with_a_dash_is_spoken_not_parsed(tmp_path: Path) -> None:
    path = await render_speech("-v fr --help", "en", tmp_path)
    assert wav_info(path)[3] > 0.3


async def test_blank_text_is_a_short_silence(tmp_path: Path) -> None:
    path = await render_speech(" ", "en", tmp_path)
    rate, channels, width, seconds = wav_info(path)
    assert (rate, channels, width) == (8000, 1, 2)
    assert 0 < seconds < 0.5


async def test_other_rates(tmp_path: Path) -> None:
    path = await render_speech("Hello.", "en", tmp_path, rate=16000)
    assert wav_info(path)[:3] == (16000, 1, 2)


async def test_missing_tools_say_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(TtsError, match=r"apt-get install espeak-ng sox"):
        await render_speech("Hello.", "en", tmp_path)
    assert not (tmp_path / "en").exists() or not any((tmp_path / "en").iterdir())


async def test_unknown_language(tmp_path: Path) -> None:
    with pytest.raises(TtsError, match="no voice"):
        await render_speech("Bonjour", "fr", tmp_path)  # type: ignore[arg-type]


async def test_a_missing_voice_is_an_error_not_a_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(tts.VOICES, "en", "no-such-voice")
    with pytest.raises(TtsError, match="no voice 'no-such-voice'"):
        await render_speech("Hello.", "en", tmp_path)


async def test_a_failing_tool_is_a_tts_error_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(TtsError, match=r"sox failed: .+"):
        await render_speech("Hello.", "en", tmp_path, rate=-1)
    assert list((tmp_path / "en").iterdir()) == []  # temp files cleaned up


def test_sync_wrapper(tmp_path: Path) -> None:
    path = tts.render_speech_sync("Hello.", "en", tmp_path)
    assert wav_info(path)[:3] == (8000, 1, 2)


def test_fill() -> None:
    variables = {"name": "Ada", "balance": "12.50"}
    assert fill("Hello {name}, you owe {balance}.", variables) == "Hello Ada, you owe 12.50."
    assert fill("Hello {missing}!", variables) == "Hello !"
    assert fill("{{name}} is {name}", variables) == "{name} is Ada"
    assert fill("a }} b {{", variables) == "a } b {"
    assert fill("{not a placeholder} {1x}", variables) == "{not a placeholder} {1x}"
    assert fill("{name}", variables, encode=str.upper) == "ADA"


def test_say_digits() -> None:
    assert say_digits("4321", "en") == "4 3 2 1"
    assert say_digits("12*#", "en") == "1 2 star pound"
    assert say_digits("90#", "zh") == "9 0 井号"
    assert say_digits("", "en") == ""


def phonemes(text: str, language: str) -> str:
    """What espeak-ng would say, as its phoneme mnemonics (no audio)."""
    voice = tts.VOICES[language]
    command = ["espeak-ng", "-q", "-x", "-b", "1", "-v", voice, "--stdin"]
    out = subprocess.run(command, input=text, capture_output=True, text=True, check=True)
    return " ".join(re.sub(r"\d", "", out.stdout).split())  # tones change in context


@pytest.mark.parametrize("language", ["en", "zh"])
def test_spelled_digits_are_read_one_by_one(language: str) -> None:
    # As a number "1234" is "one thousand two hundred..." / "yi qian er bai...".
    spoken = phonemes(say_digits("1234509", language), language)
    assert spoken == " ".join(phonemes(digit, language) for digit in "1234509")


async def test_a_hanging_tool_is_killed_after_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tts, "RENDER_TIMEOUT", 0.2)
    started = asyncio.get_running_loop().time()
    with pytest.raises(TtsError, match="sleep took over"):
        await tts._output("sleep", "10")
    assert asyncio.get_running_loop().time() - started < 2
