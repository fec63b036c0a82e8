"""Distinct-actor sketches: the HyperLogLog sketches the engagement job stores beside each
metric row (Apache DataSketches' format, as Spark's hll_sketch_agg writes it). A union of
sketches counts each actor once across rows: the distinct users of a post over a week, or
of the whole site over the last 24 hours."""

from __future__ import annotations

from collections.abc import Iterable

from datasketches import hll_sketch, hll_union, tgt_hll_type

from spark_jobs.contract import HLL_LG_K


def sketches_union_estimate(sketches: Iterable[bytes | memoryview | None]) -> int:
    """Distinct actors across the sketches (0 for none)."""
    union = hll_union(HLL_LG_K)
    for sketch in sketches:
        if sketch:
            union.update(hll_sketch.deserialize(bytes(sketch)))
    return round(union.get_estimate())


def sketch_of(actor_ids: Iterable[int]) -> bytes:
    """A sketch of these actors in the job's format (tests and fixtures build rows with it)."""
    sketch = hll_sketch(HLL_LG_K, tgt_hll_type.HLL_8)
    for actor_id in actor_ids:
        sketch.update(int(actor_id))
    return sketch.serialize_updatable()
