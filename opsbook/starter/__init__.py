"""The files a new installation starts from: the annotated example config and prefect.yaml.

They live at the top of the repository (the user fixed that layout); the symlinks beside this
module put them into the wheel, so `opsbook init DIR` works from an installed package too.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

_HERE = Path(str(files(__name__)))
PREFECT_YAML = _HERE / "prefect.yaml"
EXAMPLE_CONFIG = _HERE / "opsbook.example.yaml"

# what `opsbook init` writes: the file it copies -> the name it gets in the user's folder
STARTER_FILES = {EXAMPLE_CONFIG: "opsbook.yaml", PREFECT_YAML: "prefect.yaml"}


@dataclass(frozen=True)
class Written:
    path: Path
    created: bool  # False: it was already there and was left alone


def write_starter(folder: Path, *, overwrite: bool = False) -> list[Written]:
    """Copy the starter files into `folder` (created if missing); existing files are kept unless `overwrite`."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source, name in STARTER_FILES.items():
        target = folder / name
        if target.exists() and not overwrite:
            written.append(Written(target, created=False))
            continue
        target.write_text(source.read_text())
        written.append(Written(target, created=True))
    return written
