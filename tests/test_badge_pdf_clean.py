"""Every badge PDF the product writes is print-clean: poppler renders it without a word on
stderr (print-shop RIPs and card-printer drivers are stricter than viewers) and
``qpdf --check`` finds nothing. Every layout, one badge and batches, every category band
(the patterned ones used to reference undeclared ExtGState resources), with and without
photos, long names and all scripts; and the app's own print paths."""

from __future__ import annotations

import io
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from PIL import Image

from badges import LAYOUTS, BadgeData, EventInfo, render_badge, render_badges
from badges import fonts as badge_fonts
from badges.layouts import CATEGORIES
from registration import badge_token

EVENT = EventInfo("Global Public Safety Cooperation Forum",
                  "8\u201310 December 2026 \u00b7 Lianyungang", name_zh="全球公共安全合作论坛")
LABELS = {
    "government": ("GOVERNMENT OFFICIAL", "政府官员"),
    "expert": ("SECURITY EXPERT", "安全专家"),
    "scholar": ("SCHOLAR / ACADEMIC", "学者"),
    "ngo": ("NGO REPRESENTATIVE", "非政府组织代表"),
    "press": ("PRESS", ""),  # an unknown category: grey band
}
NAMES = [  # (honorific, given, family, native)
    ("Dr.", "Wolfgang Amadeus Maximilian Friedrich", "von Hohenzollern-Sigmaringen-Württemberg",
     ""),
    ("H.E.", "Abdulrahman bin Mohammed bin Abdulaziz", "Al-Thani", "عبدالرحمن آل ثاني"),
    ("", "Xiaoming", "Wang", "王小明"),
    ("Ms.", "Fatemeh", "Karimi", "فاطمه کریمی"),
    ("Mr.", "Rahul", "Sharma", "राहुल शर्मा"),
]


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed: apt-get install {package}")
    return path


def assert_print_clean(pdf: bytes, tmp_path: Path) -> None:
    """pdftoppm renders every page with empty stderr; qpdf --check passes silently."""
    pdftoppm = _tool("pdftoppm", "poppler-utils")
    qpdf = _tool("qpdf", "qpdf")
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "badges.pdf"
    path.write_bytes(pdf)
    raster = subprocess.run([pdftoppm, "-r", "24", "-png", str(path), str(tmp_path / "page")],
                            capture_output=True, text=True, timeout=120)
    assert raster.returncode == 0 and raster.stderr == "", raster.stderr
    assert list(tmp_path.glob("page*.png")), "pdftoppm wrote no page"
    check = subprocess.run([qpdf, "--check", str(path)], capture_output=True, text=True,
                           timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr  # 3 would mean warnings
    assert check.stderr == "", check.stderr
    assert "No syntax or stream encoding errors found" in check.stdout, check.stdout


def _photo(fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "PNG":  # with transparency: flattened or masked, never a dangling resource
        Image.new("RGBA", (300, 380), (40, 90, 160, 128)).save(buf, "PNG")
    else:
        Image.linear_gradient("L").resize((300, 380)).convert("RGB").save(buf, "JPEG")
    return buf.getvalue()


def sample_badges() -> list[BadgeData]:
    key = badge_token.generate_private_key()
    photos = [_photo("JPEG"), None, _photo("PNG"), b"not an image", None]
    out = []
    for i, category in enumerate([*CATEGORIES, "press"]):
        honorific, given, family, native = NAMES[i % len(NAMES)]
        label, label_zh = LABELS[category]
        out.append(BadgeData(
            badge_name="", given_name=given, family_name=family, honorific=honorific,
            native_name=native,
            organisation="Ministry of Public Security of the People's Republic of China, "
                         "Bureau of International Cooperation",
            position="Deputy Director-General", country="China", category=category,
            category_label=label, category_label_zh=label_zh,
            qr_payload=badge_token.issue(key, uuid.uuid4(), 1), reference=f"GPS-TEST-{i:04d}",
            photo=photos[i % len(photos)],
        ))
    return out


@pytest.fixture(scope="module")
def badges() -> list[BadgeData]:
    return sample_badges()


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_single_badges_are_print_clean(badges, layout, tmp_path):
    for i, badge in enumerate(badges):
        assert_print_clean(render_badge(badge, EVENT, layout), tmp_path / str(i))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_batches_are_print_clean(badges, layout, tmp_path):
    # several chunks joined by pdfcat; 4-up: the last sheet only partly filled
    buf = io.BytesIO()
    assert render_badges(badges * 2, EVENT, layout, buf, chunk_size=4) == 2 * len(badges)
    assert_print_clean(buf.getvalue(), tmp_path / "run")
    empty = io.BytesIO()
    assert render_badges([], EVENT, layout, empty) == 0
    assert_print_clean(empty.getvalue(), tmp_path / "empty")


def test_batch_in_worker_processes_is_print_clean(badges, tmp_path):
    buf = io.BytesIO()
    render_badges(badges * 2, EVENT, "a4-4up", buf, chunk_size=4, workers=2)
    assert_print_clean(buf.getvalue(), tmp_path)


def test_without_any_fonts_still_print_clean(badges, tmp_path, monkeypatch):
    monkeypatch.setenv(badge_fonts.FONT_DIRS_ENV, str(tmp_path / "no-fonts"))
    (tmp_path / "no-fonts").mkdir()
    for layout in sorted(LAYOUTS):
        buf = io.BytesIO()
        render_badges(badges, EVENT, layout, buf)
        assert_print_clean(buf.getvalue(), tmp_path / layout)


def test_the_apps_prints_are_print_clean(app, tmp_path, make_delegate):
    from registration.services import eticket, printing
    from registration.services.selection import BatchFilter

    with app.app_context():
        delegates = [make_delegate(c, "approved") for c in CATEGORIES]
        for layout in sorted(LAYOUTS):
            assert_print_clean(printing.preview_badge(delegates[1], layout),
                               tmp_path / f"one-{layout}")
            pdf, count = printing.render_to_bytes(BatchFilter(), None, layout)
            assert count == len(delegates)
            assert_print_clean(pdf, tmp_path / f"batch-{layout}")
        assert_print_clean(eticket.eticket_pdf(delegates[2], "zh"), tmp_path / "eticket")
