"""The v1 release laid out every way a Hub repository might hold it, for the fake Hub.

Each layout is ``{path in repo: bytes}`` built from the vendored v1 text files and one small
generated JPEG per image reference (1,537 of them), so every layout must give the same images.
"""
from __future__ import annotations

import io
import json
import random
import tarfile
import zipfile
from pathlib import Path

from PIL import Image

#: the layouts built at full size (543 users, 1,537 images); "elsewhere" (text at the root,
#: pictures flat in another folder) is used at small size
LAYOUTS = ("root", "subfolder", "zip", "tar.gz", "parquet", "imagefolder")


def v1_text(v1_dir: Path) -> dict[str, bytes]:
    return {n: (v1_dir / n).read_bytes() for n in ("posts.json", "target.json")}


def v1_images(v1_dir: Path) -> dict[str, bytes]:
    """normalised reference ("images/1.jpg") -> a distinct 8x8 JPEG."""
    posts = json.loads((v1_dir / "posts.json").read_text())
    refs = dict.fromkeys(r for e in posts.values() for r in e["img_urls"] if r != "none")
    out = {}
    for i, ref in enumerate(refs):
        im = Image.new("RGB", (8, 8), (i * 37 % 256, i * 11 % 256, 99))
        for bit in range(11):  # the index as black/white pixels: every picture differs
            im.putpixel((bit % 8, 4 + bit // 8), (255, 255, 255) if i >> bit & 1 else (0, 0, 0))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=95)
        out[ref.removeprefix("./")] = buf.getvalue()
    assert len(set(out.values())) == len(out)
    return out


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _parquet(rows: list[tuple[str, bytes]]) -> bytes:
    """A shard like ``push_to_hub`` writes for an image dataset: an Image struct {bytes, path}."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    table = pa.table({"image": pa.array([{"bytes": d, "path": n} for n, d in rows], type=image)})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def layout(name: str, text: dict[str, bytes], images: dict[str, bytes]) -> dict[str, bytes]:
    """The repository files of one layout (README.md and .gitattributes as the Hub adds them)."""
    files = {"README.md": b"# PRISM v1\n", ".gitattributes": b"*.jpg filter=lfs\n"}
    if name == "root":  # what the builder used to assume
        files.update(text)
        files.update(images)
    elif name == "subfolder":  # everything one folder down
        files.update({f"data/v1/{n}": d for n, d in text.items()})
        files.update({f"data/v1/{r}": d for r, d in images.items()})
    elif name == "elsewhere":  # text at the root, pictures flat in another folder
        files.update(text)
        files.update({f"assets/photos/{r.rsplit('/', 1)[1]}": d for r, d in images.items()})
    elif name == "zip":
        files.update(text)
        files["images.zip"] = _zip(images)
    elif name == "tar.gz":  # the whole release, text included, under a top folder
        files["prism-v1.tar.gz"] = _tar_gz({f"prism-v1/{n}": d for n, d in
                                            {**text, **images}.items()})
    elif name == "parquet":
        files.update(text)
        rows = [(r.rsplit("/", 1)[1], d) for r, d in images.items()]
        half = len(rows) // 2
        files["data/train-00000-of-00002.parquet"] = _parquet(rows[:half])
        files["data/train-00001-of-00002.parquet"] = _parquet(rows[half:])
    elif name == "imagefolder":  # renamed files: only metadata.jsonl says which is which
        files.update(text)
        refs = list(images)
        numbers = list(range(1, len(refs) + 1))
        random.Random(0).shuffle(numbers)  # file k.jpg holds some other reference's image
        lines = []
        for ref, n in zip(refs, numbers):
            files[f"train/{n}.jpg"] = images[ref]
            lines.append(json.dumps({"file_name": f"{n}.jpg", "image_ref": f"./{ref}"}))
        files["train/metadata.jsonl"] = ("\n".join(lines) + "\n").encode()
    else:
        raise ValueError(name)
    return files
