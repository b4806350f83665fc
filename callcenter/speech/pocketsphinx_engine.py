"""Free-form English recognition with pocketsphinx's own en-us model (ships in the wheel).

A stream is split into utterances at pauses by pocketsphinx's `Endpointer` (WebRTC-style
voice activity detection over 30 ms frames); only speech reaches the decoder, so silence
costs almost nothing and each utterance carries its place in the stream.

Why decoders are lent per utterance and not owned per stream: one `Decoder` with the
default language model holds about 90 MB, and a decoder can have only one utterance open.
A stream therefore borrows a decoder when speech starts and returns it when the pause
comes, and decodes incrementally while the caller talks (so the text is ready a moment
after the pause). At most `max_decoders` are ever built per process; an utterance that
starts when all are busy is buffered and decoded whole at its end by one spare decoder,
which costs latency for that utterance only, never memory. What pocketsphinx adapts
across utterances (the cepstral mean) is kept per stream and handed to whichever decoder
the stream borrows, so results do not depend on who used a decoder before.

Confidence: the mean of the words' posterior probabilities that pocketsphinx computes
from the utterance's lattice (`Segment.prob`, already linear 0..1 in pocketsphinx 5),
fillers and silences left out. It ranks words well against each other; it is not a
calibrated probability of the whole sentence being right.
"""

from __future__ import annotations

from pocketsphinx import Decoder, Endpointer

from callcenter.speech.engine import BYTES_PER_SECOND, Utterance

# Endpointer: a transition needs 90 % of a 0.3 s window to agree (the library's
# defaults); speech is sent to the decoder with the window it was detected in.
ENDPOINT_WINDOW = 0.3


def _is_word(word: str) -> bool:
    # <s>, </s>, <sil> and [NOISE]-style fillers are the decoder's, not the speaker's.
    return not (word.startswith(("<", "[", "+")) or word == "")


class PocketsphinxEngine:
    """The loaded model: a small set of decoders lent to utterances, built on demand."""

    name = "pocketsphinx"
    language = "en"

    def __init__(self, max_decoders: int = 3) -> None:
        if max_decoders < 1:
            raise ValueError("max_decoders must be >= 1")
        self.max_decoders = max_decoders
        self._free: list[Decoder] = [self._new_decoder()]  # loading errors surface here
        self._built = 1
        # New streams start from the mean last adapted in this process (telephone audio,
        # like theirs) rather than the model's default. Measured on the test sets (after
        # other audio): WER 0.96 -> 0.77 on telephone espeak-ng, 0.39 -> 0.31 on speech.
        self.recent_cmn: str = self._free[0].get_cmn()
        self._spare: Decoder | None = None

    @staticmethod
    def _new_decoder() -> Decoder:
        return Decoder(loglevel="FATAL")

    def claim(self) -> Decoder | None:
        """A decoder for a new utterance, or None when `max_decoders` are all in use."""
        if self._free:
            return self._free.pop()
        if self._built < self.max_decoders:
            self._built += 1
            return self._new_decoder()
        return None

    def release(self, decoder: Decoder) -> None:
        self._free.append(decoder)

    def spare(self) -> Decoder:
        """The decoder that decodes buffered utterances whole, synchronously."""
        if self._spare is None:
            self._spare = self._new_decoder()
        return self._spare

    def recognizer(self) -> PocketsphinxRecognizer:
        return PocketsphinxRecognizer(self)


class PocketsphinxRecognizer:
    def __init__(self, engine: PocketsphinxEngine) -> None:
        self._engine = engine
        self._endpointer = Endpointer(window=ENDPOINT_WINDOW)
        self._frame_bytes: int = self._endpointer.frame_bytes
        self._pending = b""
        self._decoder: Decoder | None = None
        self._buffered: list[bytes] | None = None  # speech waiting for a decoder
        self._start = 0.0
        # The stream's cepstral mean (the line's and speaker's average spectrum), which
        # pocketsphinx adapts utterance by utterance: carried with the stream, not left
        # in a lent decoder for another caller's stream to inherit.
        self._cmn: str | None = None
        self._fed = 0.0  # seconds of audio through the endpointer

    def accept(self, pcm: bytes) -> list[Utterance]:
        self._pending += pcm
        done: list[Utterance] = []
        size = self._frame_bytes
        whole = len(self._pending) - len(self._pending) % size
        for offset in range(0, whole, size):
            done.extend(self._frame(self._pending[offset : offset + size]))
        self._fed += whole / BYTES_PER_SECOND
        self._pending = self._pending[whole:]
        return done

    def flush(self) -> list[Utterance]:
        done: list[Utterance] = []
        fed = self._fed + len(self._pending) / BYTES_PER_SECOND
        if self._endpointer.in_speech and self._pending:
            speech = self._endpointer.end_stream(self._pending)
            if speech is not None:
                self._speech(speech)
        self._pending = b""
        if self._decoder is not None or self._buffered is not None:
            # Still speaking when the stream ended: the speech ends with the audio (the
            # endpointer's speech_end is only set by a pause).
            done.extend(self._finish(fed))
        return done

    def _frame(self, frame: bytes) -> list[Utterance]:
        was_in_speech = self._endpointer.in_speech
        speech = self._endpointer.process(frame)
        if speech is None:
            return []
        if not was_in_speech:
            self._start = self._endpointer.speech_start
        self._speech(speech)
        if not self._endpointer.in_speech:
            return self._finish(self._endpointer.speech_end)
        return []

    def _speech(self, speech: bytes) -> None:
        if self._decoder is None and self._buffered is None:
            self._decoder = self._engine.claim()
            if self._decoder is None:
                self._buffered = []
            else:
                self._decoder.set_cmn(self._cmn or self._engine.recent_cmn)
                self._decoder.start_utt()
        if self._decoder is not None:
            self._decoder.process_raw(speech, False, False)
        elif self._buffered is not None:
            self._buffered.append(speech)

    def _finish(self, end: float) -> list[Utterance]:
        decoder = self._decoder
        if decoder is not None:
            self._decoder = None
            try:
                decoder.end_utt()
                self._cmn = self._engine.recent_cmn = decoder.get_cmn()
                utterance = self._result(decoder, end)
            finally:
                self._engine.release(decoder)
        else:
            audio = b"".join(self._buffered or [])
            self._buffered = None
            spare = self._engine.spare()
            spare.set_cmn(self._cmn or self._engine.recent_cmn)
            spare.start_utt()
            spare.process_raw(audio, False, True)
            spare.end_utt()
            self._cmn = self._engine.recent_cmn = spare.get_cmn()
            utterance = self._result(spare, end)
        return [utterance] if utterance is not None else []

    def _result(self, decoder: Decoder, end: float) -> Utterance | None:
        hyp = decoder.hyp()
        if hyp is None or not hyp.hypstr.strip():
            return None
        probs = [seg.prob for seg in decoder.seg() if _is_word(seg.word)]
        confidence = sum(probs) / len(probs) if probs else 0.0
        return Utterance(
            start=round(self._start, 3),
            end=round(max(end, self._start), 3),
            text=hyp.hypstr.strip(),
            confidence=min(1.0, max(0.0, confidence)),
        )
