"""Signal tracks read from bigWig files over fixed-size bins of genome windows.

Several tracks are read at once: each window's targets are a ``(bins, tracks)`` array of
the mean signal per bin (no coverage counts as 0). Minus-strand windows read their bins
in reverse, as their sequence is reverse-complemented.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mg.core.data import DataInterface, Sample
from mg.tasks.data.genome.bed import Interval, read_bed
from mg.tasks.data.genome.reference import PaddingCount, Reference, other_spelling


class BigWigTracks:
    """Several bigWig files read together, chromosome names matched to the reference's.

    Args:
        paths (Sequence[str | Path]): one bigWig per track.

    Raises:
        ValueError: a file is missing or is not a bigWig.
    """

    def __init__(self, paths: Sequence[str | Path]) -> None:
        import pyBigWig

        if not paths:
            raise ValueError("tracks needs at least one bigWig file.")
        self.paths = [Path(p) for p in paths]
        self._files = []
        for path in self.paths:
            if not path.is_file():
                raise ValueError(f"bigWig {str(path)!r} does not exist.")
            handle = pyBigWig.open(str(path))
            if handle is None or not handle.isBigWig():
                raise ValueError(f"{path.name} is not a bigWig file.")
            self._files.append(handle)

    def __len__(self) -> int:
        return len(self._files)

    def _name_in(self, index: int, chrom: str) -> str | None:
        """The file's own name for a chromosome (either spelling), None when absent."""
        chroms = self._files[index].chroms()
        if chrom in chroms:
            return chrom
        other = other_spelling(chrom)
        return other if other in chroms else None

    def binned(self, chrom: str, start: int, bins: int, bin_size: int) -> np.ndarray:
        """Mean signal of every track over ``bins`` bins from a 0-based ``start``.

        Bins off the chromosome or without coverage read 0.

        Returns:
            np.ndarray: ``(bins, tracks)`` float32.
        """
        out = np.zeros((bins, len(self._files)), dtype=np.float32)
        for track, handle in enumerate(self._files):
            name = self._name_in(track, chrom)
            if name is None:
                continue  # a track with no entry for a chromosome has no signal there
            size = handle.chroms()[name]
            lo, hi = max(0, start), min(size, start + bins * bin_size)
            if lo >= hi:
                continue
            values = np.nan_to_num(np.asarray(handle.values(name, lo, hi), dtype=np.float32))
            signal = np.zeros(bins * bin_size, dtype=np.float32)
            signal[lo - start : hi - start] = values
            out[:, track] = signal.reshape(bins, bin_size).mean(1)
        return out


class IntervalTracks:
    """BED intervals as samples: a window centred on each, its tracks' binned signal.

    Without tracks the samples are the windows alone (for `SaturationMutagenesis`, or to
    predict tracks where none was measured).

    Args:
        intervals (str | Path): BED file.
        reference (str | Path | Reference): the genome FASTA.
        tracks (Sequence[str | Path]): bigWig files, one per track; may be empty.
        context_length (int): residues per window; a multiple of ``bin_size``.
        bin_size (int): residues per target bin.

    Raises:
        ValueError: ``context_length`` is not a positive multiple of ``bin_size``, or any
            problem the BED, FASTA or bigWig readers name.
    """

    def __init__(
        self,
        intervals: str | Path,
        reference: str | Path | Reference,
        tracks: Sequence[str | Path],
        context_length: int,
        bin_size: int,
    ) -> None:
        if bin_size < 1 or context_length < bin_size or context_length % bin_size:
            raise ValueError(
                f"context_length {context_length} must be a positive multiple of bin_size "
                f"{bin_size}."
            )
        self.path = Path(intervals)
        self.reference = reference if isinstance(reference, Reference) else Reference(reference)
        self.intervals: list[Interval] = read_bed(self.path, self.reference)
        self.tracks = BigWigTracks(tracks) if tracks else None
        bins = context_length // bin_size
        padding = PaddingCount()
        self.samples: list[Sample] = []
        for interval in self.intervals:
            window = self.reference.window(
                interval.ref_chrom, interval.center, context_length, interval.strand
            )
            padding.add(window.padded)
            sample: Sample = {"ids": interval.name, "sequences": window.sequence}
            if self.tracks is not None:
                targets = self.tracks.binned(interval.ref_chrom, window.start, bins, bin_size)
                sample["labels"] = targets[::-1].copy() if interval.strand == "-" else targets
            self.samples.append(sample)
        padding.say(self.path.name)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Sample:
        return self.samples[index]

    def origin(self, index: int) -> str:
        """Say where sample ``index`` came from: ``"regions.bed line 3"``."""
        return f"{self.path.name} line {self.intervals[index].line}"


class IntervalTrackData(DataInterface):
    """Intervals (BED) on a reference with bigWig track targets, for `TrackRegression`.

    Each interval is one window of ``context_length`` residues centred on it (reverse-
    complemented on the minus strand; padded with ``N`` off a chromosome end); its targets
    are the mean signal of each bigWig over ``bin_size`` bins. Without ``tracks`` it gives
    the windows alone: `TrackRegression` predicts them, `SaturationMutagenesis` scores them.

    Args:
        train (str | None): BED of training intervals.
        val (str | None): BED of validation intervals.
        test (str | None): BED of test intervals.
        predict (str | None): BED of intervals to predict.
        reference (str): the genome FASTA.
        tracks (list[str] | None): bigWig files, one per track; none gives windows alone.
        context_length (int): residues per window (a multiple of ``bin_size``).
        bin_size (int): residues per target bin.
        batch_size (int): windows per batch.
        num_workers (int): DataLoader workers.
    """

    def __init__(
        self,
        train: str | None = None,
        val: str | None = None,
        test: str | None = None,
        predict: str | None = None,
        reference: str = "",
        tracks: list[str] | None = None,
        context_length: int = 128,
        bin_size: int = 32,
        batch_size: int = 16,
        num_workers: int = 0,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers)
        self.files = {"train": train, "val": val, "test": test, "predict": predict}
        self.reference = reference
        self.tracks = tracks or []
        self.context_length = context_length
        self.bin_size = bin_size

    def provided_columns(self, stage: str) -> set[str]:
        """``ids``, ``sequences`` and, with tracks, ``labels`` (the binned tracks)."""
        return {"ids", "sequences", "labels"} if self.tracks else {"ids", "sequences"}

    def setup(self, stage: str | None = None) -> None:
        """Read every given BED with its windows and targets (once)."""
        reference = Reference(self.reference)
        for split, path in self.files.items():
            if path is not None and split not in self.datasets:
                self.datasets[split] = IntervalTracks(  # type: ignore[assignment]
                    path, reference, self.tracks, self.context_length, self.bin_size
                )
