"""A disk-backed cache of a frozen backbone's hidden states, keyed per sequence.

When the backbone does not train (frozen, no LoRA) and runs deterministically (eval
mode), its hidden states for a sequence are the same every epoch: the cache computes
them once and reads them back from disk afterwards, so epochs 2+ skip the backbone.

Layout, inside ``cache_dir``::

    <fingerprint>/                  one folder per backbone state (see `backbone_fingerprint`)
        about.json                  what the fingerprint covers, for people
        shard-r<rank>-<pid>-<tag>.bin   hidden states of real tokens, appended
        shard-r<rank>-<pid>-<tag>.idx   fixed-size records: key, offset, shape, dtype, crc32

Every process appends to shard files of its own (DDP ranks never share a file, and no
process group is needed); a record is written to the index only after its data, so a
reader never sees a record whose data is not on disk. Readers load every index into a
small in-memory dict (key → where), re-read the indexes when a batch misses (another
rank may have written the item), and read hidden states with positioned file reads.
A damaged file (a record pointing past the end of its shard, a checksum that does not
match) is said once and its items are recomputed.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import struct
import uuid
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from mg.core.backbone import BackboneInterface, BackboneOutput

FORMAT_VERSION = 1
"""Bumped when the file layout changes, so an old folder is never misread."""

_RECORD = struct.Struct("<16sQIIB3xI")
"""key (16 bytes), offset (u64), tokens (u32), hidden size (u32), dtype code (u8), crc32."""

_DTYPES: dict[int, torch.dtype] = {
    0: torch.float32,
    1: torch.float16,
    2: torch.bfloat16,
    3: torch.float64,
}
_CODES = {dtype: code for code, dtype in _DTYPES.items()}


def _raw_bytes(tensor: Tensor) -> bytes:
    """Return the bytes of a tensor's elements (copied to a contiguous CPU tensor first)."""
    flat = tensor.detach().to("cpu").contiguous().reshape(-1)
    return ctypes.string_at(flat.data_ptr(), flat.numel() * flat.element_size())


def backbone_fingerprint(backbone: BackboneInterface, precision: str = "") -> str:
    """Return a hex digest of everything that decides the backbone's hidden states.

    It covers every tensor of the state dict (weights and buffers, by name, dtype, shape
    and value), the module tree (``repr``: layer types, sizes, dropout, ...), the class,
    the tokenizer's vocabulary and structural tokens, ``max_length`` and the numeric
    precision of the run. Changing any of these gives a new folder: no stale reuse. A
    change to the backbone's code alone is not seen; delete the cache after such a change.

    Args:
        backbone (BackboneInterface): the built backbone, with its final weights.
        precision (str): the trainer's precision (``"32-true"``, ``"bf16-mixed"``, ...).
    """
    digest = hashlib.blake2b(digest_size=16)
    cls = type(backbone)
    header = {
        "format": FORMAT_VERSION,
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "max_length": backbone.get_max_context(),
        "vocab": sorted(backbone.get_vocab().items()),
        "structural": backbone.structural_token_ids(),
        "precision": precision,
        "modules": repr(backbone),
    }
    digest.update(json.dumps(header, sort_keys=True, default=str).encode())
    for name, tensor in backbone.state_dict().items():
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(_raw_bytes(tensor))
    return digest.hexdigest()


def item_key(token_ids: Tensor) -> bytes:
    """Return the cache key of one item: a digest of its real (unpadded) token ids.

    Token ids, not the text: they already reflect the tokenizer and the truncation.
    """
    return hashlib.blake2b(_raw_bytes(token_ids.to(torch.int64)), digest_size=16).digest()


@dataclass(frozen=True)
class _Entry:
    shard: Path
    offset: int
    tokens: int
    hidden: int
    dtype_code: int
    crc: int

    @property
    def nbytes(self) -> int:
        return self.tokens * self.hidden * _DTYPES[self.dtype_code].itemsize


class EmbeddingCache:
    """Hidden states of real tokens, per item, in append-only shard files on disk.

    Args:
        folder (str | Path): the folder of one backbone fingerprint; created if missing.
        rank (int): this process's rank, used only to name its own shard files.
    """

    def __init__(self, folder: str | Path, rank: int = 0) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.rank = rank
        self._entries: dict[bytes, _Entry] = {}
        self._index_read: dict[Path, int] = {}  # index file → bytes already read
        self._readers: dict[Path, int] = {}  # shard → open file descriptor
        self._data: Any = None  # this process's shard and index, opened on first write
        self._index: Any = None
        self._damaged: set[Path] = set()
        self.hits = 0
        self.misses = 0
        self.refresh()

    # ----------------------------------------------------------------- index
    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: bytes) -> bool:
        return key in self._entries

    def refresh(self) -> None:
        """Read the index records written since the last look, by any process."""
        for index in sorted(self.folder.glob("shard-*.idx")):
            start = self._index_read.get(index, 0)
            with index.open("rb") as file:
                file.seek(start)
                data = file.read()
            whole = len(data) - len(data) % _RECORD.size  # a record being written is skipped
            self._index_read[index] = start + whole
            if not whole:
                continue
            shard = index.with_suffix(".bin")
            size = shard.stat().st_size if shard.exists() else -1
            for fields in _RECORD.iter_unpack(data[:whole]):
                entry = _Entry(shard, *fields[1:])
                if entry.dtype_code not in _DTYPES or entry.offset + entry.nbytes > size:
                    self._say_damaged(shard, "it is shorter than its index says")
                    continue
                self._entries[fields[0]] = entry

    def _say_damaged(self, shard: Path, why: str) -> None:
        if shard not in self._damaged:
            self._damaged.add(shard)
            warnings.warn(
                f"The embedding cache file {shard} is damaged ({why}): its items are "
                f"recomputed and stored again. Delete {self.folder} to reclaim the space.",
                stacklevel=3,
            )

    # ----------------------------------------------------------------- read / write
    def get(self, key: bytes) -> Tensor | None:
        """Return the cached ``(tokens, hidden)`` states of an item, or None.

        A record whose bytes cannot be read back whole and unchanged is dropped (and the
        file named once), so the caller recomputes the item.
        """
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._data is not None:
            self._data.flush()
        descriptor = self._readers.get(entry.shard)
        if descriptor is None:
            descriptor = self._readers[entry.shard] = os.open(entry.shard, os.O_RDONLY)
        raw = os.pread(descriptor, entry.nbytes, entry.offset)
        if len(raw) != entry.nbytes or zlib.crc32(raw) != entry.crc:
            self._say_damaged(entry.shard, "a stored item does not match its checksum")
            del self._entries[key]
            return None
        states = torch.frombuffer(bytearray(raw), dtype=_DTYPES[entry.dtype_code])
        return states.view(entry.tokens, entry.hidden)

    def put(self, key: bytes, states: Tensor) -> None:
        """Append one item's ``(tokens, hidden)`` states to this process's shard."""
        if states.dtype not in _CODES:
            raise TypeError(f"The embedding cache stores floating states, not {states.dtype}.")
        if self._data is None:
            stem = f"shard-r{self.rank}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            self._data = (self.folder / f"{stem}.bin").open("ab")
            self._index = (self.folder / f"{stem}.idx").open("ab")
        raw = _raw_bytes(states)
        offset = self._data.tell()
        self._data.write(raw)
        self._data.flush()  # data before its record: a reader never sees a record too soon
        tokens, hidden = states.shape
        fields = (key, offset, tokens, hidden, _CODES[states.dtype], zlib.crc32(raw))
        self._index.write(_RECORD.pack(*fields))
        self._index.flush()
        self._entries[key] = _Entry(Path(self._data.name), *fields[1:])

    def close(self) -> None:
        """Close every open file (the cache stays valid on disk)."""
        for descriptor in self._readers.values():
            os.close(descriptor)
        self._readers.clear()
        for file in (self._data, self._index):
            if file is not None:
                file.close()
        self._data = self._index = None

    def __getstate__(self) -> dict[str, Any]:
        """Copy without open files (a copied task, a spawned process): they reopen on use."""
        state = self.__dict__.copy()
        state.update(_readers={}, _data=None, _index=None)
        return state

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: files close with the process anyway
            pass

    # ----------------------------------------------------------------- batches
    def backbone_outputs(
        self, backbone: BackboneInterface, input_ids: Tensor, attention_mask: Tensor
    ) -> BackboneOutput:
        """Return the backbone's outputs for a batch, from disk when every item is cached.

        When any item is missing the whole batch runs through the backbone (exactly what
        no cache gives) and the missing items are stored. From the cache, padding
        positions hold zeros: adapters mask them (mg's padding rule), so only what they
        read must match.

        Args:
            backbone (BackboneInterface): the frozen backbone, in eval mode.
            input_ids (Tensor): ``(batch, length)`` token ids.
            attention_mask (Tensor): ``(batch, length)`` bool, True for real tokens.
        """
        mask = attention_mask.bool()
        ids_cpu, mask_cpu = input_ids.cpu(), mask.cpu()
        keys = [item_key(ids[m]) for ids, m in zip(ids_cpu, mask_cpu, strict=True)]
        if any(key not in self._entries for key in keys):
            self.refresh()  # another rank may have stored them meanwhile
        states = [self.get(key) for key in keys]
        counts = mask_cpu.sum(-1).tolist()
        if all(s is not None and s.shape[0] == n for s, n in zip(states, counts, strict=True)):
            self.hits += len(keys)
            return self._assemble(backbone, states, input_ids, mask)  # type: ignore[arg-type]
        out = backbone(input_ids, attention_mask)
        hidden = out.last_hidden_state.detach()
        for row, (key, cached) in enumerate(zip(keys, states, strict=True)):
            if cached is None:
                self.misses += 1
                self.put(key, hidden[row][mask[row]])
        return out

    def _assemble(
        self, backbone: BackboneInterface, states: list[Tensor], input_ids: Tensor, mask: Tensor
    ) -> BackboneOutput:
        batch, width = mask.shape
        hidden = torch.zeros(batch, width, states[0].shape[-1], dtype=states[0].dtype)
        hidden[mask.cpu()] = torch.cat(states)  # row-major: each item's tokens in order
        return BackboneOutput(
            last_hidden_state=hidden.to(input_ids.device, non_blocking=True),
            attention_mask=mask,
            special_tokens_mask=backbone.special_tokens_mask(input_ids, mask),
        )


def open_backbone_cache(
    backbone: BackboneInterface, cache_dir: str | None, trainer: Any, rank: int
) -> EmbeddingCache:
    """Check a built backbone is frozen, then open its fingerprint's cache folder.

    Args:
        backbone (BackboneInterface): the task's backbone.
        cache_dir (str | None): the task's ``cache_dir``; by default ``embedding_cache``
            in the trainer's root folder.
        trainer (Any): the trainer running the task, or None.
        rank (int): this process's global rank.

    Raises:
        ValueError: a backbone parameter trains (LoRA or fine-tuning), or the backbone
            gives one state per bin rather than per token (the cache stores token states).
    """
    if backbone.output_bin_size is not None:
        raise ValueError(
            f"cache_embeddings stores one hidden state per token, but {type(backbone).__name__} "
            f"gives one per {backbone.output_bin_size}-residue bin. Set cache_embeddings: false."
        )
    trainable = [name for name, p in backbone.named_parameters() if p.requires_grad]
    if trainable:
        raise ValueError(
            f"cache_embeddings needs a frozen backbone, but {len(trainable)} of its "
            f"parameters train (first: {trainable[0]!r}; LoRA and full fine-tuning train "
            "some). Set the backbone's finetune: frozen, or cache_embeddings: false."
        )
    root = cache_dir or str(Path(trainer.default_root_dir if trainer else ".") / "embedding_cache")
    precision = str(trainer.precision) if trainer else ""
    return EmbeddingCache(Path(root) / backbone_fingerprint(backbone, precision), rank=rank)
