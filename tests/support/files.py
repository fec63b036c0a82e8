from pathlib import Path


def stored_files(root: Path) -> list[str]:
    """Every file under `root`, relative to it (what an upload left behind)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
