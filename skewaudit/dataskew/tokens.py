"""Prompt lengths in tokens, with a tokenizer loaded from a local ``tokenizer.json``.

The only importer of Hugging Face ``tokenizers`` (the optional ``tokens`` extra,
imported when ``--tokenizer`` is given, never on the CLI start-up path). Only a
file path is accepted, never a hub name: skewaudit runs where the hub may be
unreachable and never downloads. Lengths count the tokens of the text alone
(no special tokens, no chat template): what the model's context holds of it.

A tokenizer is named in profiles by its file name and the SHA-256 of its
bytes, so two profiles' token lengths are compared only when they were counted
with the same tokenizer; otherwise character lengths are, and the finding says
so.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

from skewaudit.errors import InputError

MAX_TOKENIZER_BYTES = 64 << 20   # real tokenizer.json files are a few MB (Llama 3: 9 MB)


@dataclass(frozen=True)
class Tokenizer:
    """A loaded tokenizer and its identity (``name@sha256:<12 hex>``)."""

    impl: Any
    ident: str

    def lengths(self, texts: list[str]) -> list[int]:
        """Token counts of ``texts`` (the tokenizer's Rust batch encoder; without offsets where the
        library has ``encode_batch_fast``, 0.20+)."""
        encode = getattr(self.impl, "encode_batch_fast", None) or self.impl.encode_batch
        return [len(e.ids) for e in encode(texts, add_special_tokens=False)]


def load(path: str) -> Tokenizer:
    """The tokenizer in ``path`` (a ``tokenizer.json``, or a model directory holding one)."""
    if os.path.isdir(path):
        path = os.path.join(path, "tokenizer.json")
    try:
        from tokenizers import Tokenizer as _HF
    except ImportError:
        raise InputError("--tokenizer needs the 'tokens' extra: pip install 'skewaudit[tokens]' (Hugging Face "
                         "tokenizers)") from None
    try:
        size = os.path.getsize(path)
        if size > MAX_TOKENIZER_BYTES:
            raise InputError(f"{path}: larger than {MAX_TOKENIZER_BYTES >> 20} MiB; not a tokenizer.json")
        with open(path, "rb") as f:
            raw = f.read(MAX_TOKENIZER_BYTES + 1)
    except OSError as e:
        raise InputError(f"{path}: cannot read tokenizer: {e.strerror}") from None
    try:
        impl = _HF.from_str(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not a tokenizer.json (not UTF-8 text at byte {e.start})") from None
    except Exception as e:  # noqa: BLE001 - the Rust parser raises a plain Exception with serde's message
        text = " ".join(str(e).split())[:200]
        raise InputError(f"{path}: not a tokenizer.json ({text})") from None
    digest = hashlib.sha256(raw).hexdigest()[:12]
    return Tokenizer(impl=impl, ident=f"{os.path.basename(path)}@sha256:{digest}")
