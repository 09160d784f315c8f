"""The face check's cost per photo upload (services/face_check.py, OpenCV Haar cascade).

Times, on this machine's one core:
- `detect`: the detector alone on the stored-size photo (600×800 at most), as process_photo
  calls it;
- `upload`: the whole upload gate (services/photos.process_photo: decode, orient, crop,
  face check, re-encode) for a camera-sized JPEG, with and without the face check, so the
  check's share of an upload is visible;
- `thumbnail`: the door's offline copy (services/photos.thumbnail) and its size.

Photos: the public-domain test face (tests/data/face.jpg) scaled up to camera sizes, and the
made landscape without a face (tests/data/landscape.jpg). No database, no server.

    .venv/bin/python bench/face_check.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registration import create_app  # noqa: E402
from registration.services import photos  # noqa: E402
from registration.services.face_check import count_faces  # noqa: E402

DATA = ROOT / "tests" / "data"


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def timed(label: str, rounds: int, work: Callable[[], object]) -> None:
    work()  # warm-up (the cascade is loaded once per process)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    print(f"{label:<46} median {statistics.median(times):7.1f} ms   p95 {p95:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    face = Image.open(DATA / "face.jpg").convert("RGB")
    landscape = Image.open(DATA / "landscape.jpg").convert("RGB")
    stored_face = Image.open(io.BytesIO(photos.process_photo(jpeg(face), check_face=False)))
    stored_landscape = landscape.resize((600, 400))
    camera_face = jpeg(face.resize((3024, 4032), Image.Resampling.BICUBIC))  # 12 MP phone
    camera_landscape = jpeg(landscape.resize((4032, 3024), Image.Resampling.BICUBIC))

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"APP_ENV": "testing", "SECRET_KEY": "bench-" + "x" * 40,
                          "SQLALCHEMY_DATABASE_URI": "sqlite://", "INSTANCE_DIR": tmp})
        run(app, args.rounds, stored_face, stored_landscape, camera_face, camera_landscape)


def run(app: Flask, rounds: int, stored_face: Image.Image, stored_landscape: Image.Image,
        camera_face: bytes, camera_landscape: bytes) -> None:
    with app.app_context():
        if count_faces(stored_face) != 1 or count_faces(stored_landscape) != 0:
            raise SystemExit("the test images do not give one face and none")
        print(f"face check per photo ({rounds} rounds each, after one warm-up)")
        timed("detect: face, stored size", rounds, lambda: count_faces(stored_face))
        timed("detect: landscape, stored size", rounds,
              lambda: count_faces(stored_landscape))
        timed("upload 12 MP face JPEG, with face check", rounds,
              lambda: photos.process_photo(camera_face))
        timed("upload 12 MP face JPEG, without face check", rounds,
              lambda: photos.process_photo(camera_face, check_face=False))
        timed("upload 12 MP landscape (refused: no face)", rounds,
              lambda: _refused(camera_landscape))
        stored = photos.process_photo(camera_face)
        timed("thumbnail for the door", rounds, lambda: photos.thumbnail(stored))
        print(f"thumbnail size: {len(photos.thumbnail(stored))} bytes "
              f"(limit {photos.THUMB_MAX_BYTES})")


def _refused(data: bytes) -> None:
    try:
        photos.process_photo(data)
    except photos.PhotoRejected as exc:
        if exc.reason != "no_face":
            raise
    else:
        raise AssertionError("a landscape was accepted")


if __name__ == "__main__":
    main()
