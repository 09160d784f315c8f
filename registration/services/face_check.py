"""Is there exactly one face in a badge photo? OpenCV's frontal-face Haar cascade, the model
file that `opencv-python-headless` (4.x) ships in `cv2.data.haarcascades`: nothing is
downloaded at run time.

`count_faces` answers with a number; `services/photos.py` turns "none" and "several" into
the plain messages the delegate or the desk sees. The check runs on the photo as it is
stored (already cropped to the badge's shape), so a face cut off by the crop counts as none.
The cascade is loaded once per process (about 1 MB of XML) and detection runs on a
grey copy at most DETECT_SIDE pixels on its long side: a few tens of milliseconds a photo
(bench/face_check.py).
"""

from __future__ import annotations

import enum
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import Image

CASCADE = "haarcascade_frontalface_default.xml"
DETECT_SIDE = 480  # long side of the grey copy the detector reads
# A face smaller than this share of the photo's short side is not the subject (a face in
# the background, a pattern on a shirt): a badge photo is a head-and-shoulders portrait.
MIN_FACE_SHARE = 1 / 6
SCALE_FACTOR = 1.1
MIN_NEIGHBOURS = 6  # higher: fewer false faces in textures, still finds a clear portrait


class FaceResult(enum.StrEnum):
    ONE = "one"
    NONE = "none"
    SEVERAL = "several"


_lock = threading.Lock()  # a CascadeClassifier is not documented as thread-safe


@lru_cache(maxsize=1)
def _cascade() -> Any:
    import cv2

    path = Path(cv2.data.haarcascades) / CASCADE  # type: ignore[attr-defined]
    classifier = cv2.CascadeClassifier(str(path))
    if classifier.empty():
        raise RuntimeError(f"OpenCV's face model is missing: {path}")
    return classifier


def face_boxes(image: Image.Image) -> list[tuple[int, int, int, int]]:
    """(x, y, w, h) of each face found, in the image's own pixels."""
    import cv2
    import numpy as np

    grey = image.convert("L")
    scale = min(1.0, DETECT_SIDE / max(grey.size))
    if scale < 1.0:
        grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
                           Image.Resampling.BILINEAR)
    pixels = cv2.equalizeHist(np.asarray(grey, dtype=np.uint8))
    side = max(1, round(min(pixels.shape) * MIN_FACE_SHARE))
    classifier = _cascade()
    with _lock:
        found = classifier.detectMultiScale(pixels, scaleFactor=SCALE_FACTOR,
                                            minNeighbors=MIN_NEIGHBOURS, minSize=(side, side))
    return [(round(x / scale), round(y / scale), round(w / scale), round(h / scale))
            for (x, y, w, h) in found]


def count_faces(image: Image.Image) -> int:
    return len(face_boxes(image))


def check_faces(image: Image.Image) -> FaceResult:
    n = count_faces(image)
    if n == 1:
        return FaceResult.ONE
    return FaceResult.NONE if n == 0 else FaceResult.SEVERAL
