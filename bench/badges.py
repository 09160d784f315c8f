"""Badge engine benchmark: ``python bench/badges.py [--profile]`` from the repo root.

Prints single-badge latency (p50/p99); 1,000-badge A4 4-up mixed-script runs (wall time,
badges/s, output size; one process and two worker processes; repeated because the box is
shared); and the peak memory of 5,000-badge runs, each measured in a fresh child process
as VmHWM (peak resident set of the whole process: interpreter, imports and fonts
included), next to that process's figure just before rendering.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from badges import BadgeData, EventInfo, render_badge, render_badges
from registration import badge_token

EVENT = EventInfo("Global Public Safety Cooperation Forum",
                  "8\u201310 December 2026 \u00b7 Lianyungang")
NATIVE = ["王小明", "佐藤 健二", "Мария Иванова", "محمد الراشد", "박지우", "", "陳美玲",
          "राहुल शर्मा", "", "فاطمه کریمی", "דוד כהן", "สมชาย ใจดี", "Γιώργος Παπαδόπουλος"]
LATIN = ["Xiaoming Wang", "Kenji Sato", "Maria Ivanova", "Mohammed Al-Rashid", "Ji-woo Park",
         "Lars Østergård", "Mei-Ling Chen", "Rahul Sharma", "José Núñez García",
         "Fatemeh Karimi", "David Cohen", "Somchai Jaidee", "Giorgos Papadopoulos"]
ORGS = ["Ministry of Public Security", "Fire and Disaster Management Agency",
        "Korea Internet & Security Agency", "Universidad Nacional Autónoma de México",
        "Médecins pour la Sécurité Publique", "Red Crescent Society"]
CATS = [("government", "GOVERNMENT OFFICIAL"), ("expert", "EXPERT"),
        ("scholar", "SCHOLAR"), ("ngo", "NGO REPRESENTATIVE")]
COUNTRIES = ["China", "Japan", "Russia", "Saudi Arabia", "South Korea", "Denmark", "Taiwan",
             "India", "Mexico", "Iran", "Israel", "Thailand", "Greece"]


_BASE_PHOTOS: list[bytes] = []


def _photo(i: int) -> bytes:
    """A distinct ~60 KB 300x400 JPEG (gradient + noise: photo-like compressibility).

    16 images are encoded once; each badge gets one of them with its own JPEG comment
    segment, so every photo is a different file (no de-duplication) at no encoding cost.
    """
    from PIL import Image, ImageChops

    if not _BASE_PHOTOS:
        grad = Image.linear_gradient("L").resize((300, 400))
        for k in range(16):
            noise = Image.effect_noise((300, 400), 40 + k)
            img = Image.merge("RGB", (ImageChops.add(grad, noise, 2), noise, grad))
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=85)
            _BASE_PHOTOS.append(buf.getvalue())
    base = _BASE_PHOTOS[i % len(_BASE_PHOTOS)]
    comment = f"badge {i}".encode()
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return base[:2] + segment + base[2:]  # after SOI


def delegates(n: int, photos: bool = False) -> Iterator[BadgeData]:
    """Mixed-script delegates with unique names and real tokens, generated lazily."""
    key = badge_token.generate_private_key()
    for i in range(n):
        k = i % len(LATIN)
        cat, label = CATS[i % 4]
        yield BadgeData(
            badge_name=f"{LATIN[k]} {i}", honorific=("Dr.", "Mr.", "Ms.", "Prof.")[i % 4],
            native_name=f"{NATIVE[k]}{i}" if NATIVE[k] else "",
            organisation=ORGS[i % len(ORGS)], country=COUNTRIES[k],
            category=cat, category_label=label,
            qr_payload=badge_token.issue(key, uuid.uuid4(), 1 + i % 3),
            reference=f"GPS-{i:04d}-{(i * 7919) % 10000:04d}",
            photo=_photo(i) if photos and i % 2 == 0 else None,
        )


def bench_single(samples: int = 300) -> None:
    items = list(delegates(samples))
    for b in items[:20]:  # warm-up: font loading, first shaping
        render_badge(b, EVENT, "a6")
    times = []
    for b in items:
        t = time.perf_counter()
        render_badge(b, EVENT, "a6")
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"single badge (a6, {samples} samples): p50 {statistics.median(times):.2f} ms, "
          f"p99 {p99:.2f} ms")


def bench_bulk(n: int, layout: str, photos: bool, workers: int = 1) -> None:
    items = list(delegates(n, photos))  # input built up front: time only the rendering
    render_badge(items[0], EVENT, layout)  # warm-up
    out = io.BytesIO()
    t = time.perf_counter()
    cpu = time.process_time()
    if workers > 1:
        count = render_badges(items, EVENT, layout, out, chunk_size=n // (2 * workers),
                              workers=workers)
    else:
        count = render_badges(items, EVENT, layout, out)
    wall = time.perf_counter() - t
    cpu = time.process_time() - cpu
    label = "with ~60 KB JPEG photos on half" if photos else "no photos"
    label += f", {workers} worker processes" if workers > 1 else ", 1 process"
    cpu_note = f" (CPU of this process {cpu:.3f} s)" if workers == 1 else ""
    print(f"{count} badges {layout} mixed scripts, {label}: wall {wall:.3f} s{cpu_note}, "
          f"{count / wall:.0f} badges/s, output {len(out.getvalue()) / 1e6:.2f} MB")


def _peak_rss_mb() -> float:
    """Peak resident set of this process: VmHWM, which (unlike ru_maxrss on Linux) is
    not inherited from the parent across fork/exec."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_5000(photos: bool) -> None:
    render_badge(next(delegates(1)), EVENT, "a4-4up")  # load fonts etc.
    base = _peak_rss_mb()
    with open(os.devnull, "wb") as sink:
        t = time.perf_counter()
        n = render_badges(delegates(5000, photos), EVENT, "a4-4up", sink)
        wall = time.perf_counter() - t
    peak = _peak_rss_mb()
    label = "with ~60 KB JPEG photos on half" if photos else "no photos"
    print(f"{n} badges a4-4up, {label}, streamed from a generator to /dev/null: wall "
          f"{wall:.2f} s (incl. signing tokens), peak RSS (VmHWM) {peak:.0f} MB; "
          f"before rendering (interpreter, Flask via registration/__init__, fonts) {base:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", action="store_true", help="cProfile the 1,000-badge run")
    ap.add_argument("--child-5000", choices=["photos", "nophotos"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_5000:
        child_5000(args.child_5000 == "photos")
        return
    if args.profile:
        items = list(delegates(1000))
        render_badge(items[0], EVENT, "a4-4up")
        prof = cProfile.Profile()
        prof.enable()
        render_badges(items, EVENT, "a4-4up", io.BytesIO())
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    for mode in ("nophotos", "photos"):  # fresh processes: clean peak-memory figures
        subprocess.run([sys.executable, __file__, "--child-5000", mode], check=True)
    bench_single()
    for _ in range(3):
        bench_bulk(1000, "a4-4up", photos=False)
    for _ in range(2):
        bench_bulk(1000, "a4-4up", photos=False, workers=2)
    bench_bulk(1000, "a4-4up", photos=True)
    bench_bulk(1000, "a4-4up", photos=True, workers=2)


if __name__ == "__main__":
    main()
