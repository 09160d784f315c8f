"""Concatenate ReportLab-made PDFs into one output stream, chunk by chunk.

Why: ReportLab keeps every page and every embedded photo of a document in memory until
``save()``. For 5,000 badges with photos that is hundreds of MB. Rendering in chunks of a
few hundred badges and appending each finished chunk's objects to the output (renumbered,
written immediately) bounds memory by the chunk size; only one offset per object and one
reference per page are kept until the end.

This is deliberately not a general PDF parser: it reads the classic cross-reference
table and direct ``/Length`` values that ReportLab writes, and refuses anything else.
"""

from __future__ import annotations

import hashlib
import re
from typing import BinaryIO

_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_XREF_HEAD = re.compile(rb"xref\s+0\s+(\d+)\s+")
_XREF_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])")
_OBJ_HEAD = re.compile(rb"(\d+) 0 obj\s*")
_REF = re.compile(rb"(\d+) 0 R")
_TYPE = re.compile(rb"/Type\s*/(\w+)")
_KIDS = re.compile(rb"/Kids\s*\[([^\]]*)\]")
_LENGTH = re.compile(rb"/Length (\d+)(\s+\d+\s+R)?")
_STREAM_KW = re.compile(rb">>\s*stream\r?\n")
_ENDSTREAM = re.compile(rb"\s*endstream")

_CATALOG, _PAGES, _INFO = 1, 2, 3


def _pdf_string(s: str) -> bytes:
    """A PDF text string: UTF-16BE with BOM, hex-encoded (safe for any text)."""
    return b"<FEFF" + s.encode("utf-16-be").hex().upper().encode("ascii") + b">"


class PdfConcatenator:
    """Write the pages of several ReportLab PDFs, in order, as one PDF to ``out``."""

    def __init__(self, out: BinaryIO, title: str = "", creator: str = "badges") -> None:
        self.out = out
        self.pos = 0
        self.offsets: dict[int, int] = {}
        self.next_num = _INFO + 1
        self.kids: list[int] = []
        self.title = title
        self.creator = creator
        self._digest = hashlib.blake2b(digest_size=16)
        self._write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.pos += len(data)

    @staticmethod
    def _objects(pdf: bytes) -> tuple[dict[int, int], int, int | None]:
        m = _STARTXREF.search(pdf, max(0, len(pdf) - 64))
        if not m:
            raise ValueError("no startxref: not a complete PDF")
        xref = _XREF_HEAD.match(pdf, int(m.group(1)))
        if not xref:
            raise ValueError("only classic xref tables are supported")
        count = int(xref.group(1))
        offsets: dict[int, int] = {}
        pos = xref.end()
        for num in range(count):
            e = _XREF_ENTRY.match(pdf, pos)
            if not e:
                raise ValueError(f"bad xref entry {num}")
            if e.group(3) == b"n":
                offsets[num] = int(e.group(1))
            pos = e.end()
            while pdf[pos : pos + 1] in (b" ", b"\r", b"\n"):
                pos += 1
        trailer = pdf[pos : int(m.group(1)) + 64 * 1024]
        root = re.search(rb"/Root (\d+) 0 R", trailer)
        info = re.search(rb"/Info (\d+) 0 R", trailer)
        if not root:
            raise ValueError("no /Root in trailer")
        return offsets, int(root.group(1)), int(info.group(1)) if info else None

    @staticmethod
    def _parse(pdf: bytes, offset: int) -> tuple[bytes, bytes | None]:
        """(dictionary-or-value bytes, stream data or None) of the object at ``offset``."""
        h = _OBJ_HEAD.match(pdf, offset)
        if not h:
            raise ValueError(f"no object at offset {offset}")
        start = h.end()
        end = pdf.find(b"endobj", start)
        if end == -1:
            raise ValueError(f"object at offset {offset} is not terminated")
        # a stream's keyword directly follows its dictionary's closing ">>"; binary data
        # (which may contain anything, "endobj" included) only starts after it
        kw = _STREAM_KW.search(pdf, start, end)
        if kw is None:
            return pdf[start:end].rstrip(), None
        head = pdf[start : kw.start() + 2]  # up to and including ">>"
        length = _LENGTH.search(head)
        if not length or length.group(2):
            raise ValueError("stream without a direct /Length")
        data_start = kw.end()
        data = pdf[data_start : data_start + int(length.group(1))]
        if not _ENDSTREAM.match(pdf, data_start + len(data)):
            raise ValueError(f"stream length mismatch at offset {offset}")
        return head, data

    def add(self, pdf: bytes) -> int:
        """Append all pages of ``pdf``; returns the number of pages added."""
        offsets, root, info = self._objects(pdf)
        parsed = {num: self._parse(pdf, off) for num, off in offsets.items() if num != info}
        catalog = parsed[root][0]
        pages_ref = re.search(rb"/Pages (\d+) 0 R", catalog)
        if not pages_ref:
            raise ValueError("catalog without /Pages")
        skip = {root}
        pages: list[int] = []

        def walk(num: int) -> None:  # page tree -> pages in order
            body = parsed[num][0]
            kind = _TYPE.search(body)
            if kind and kind.group(1) == b"Pages":
                skip.add(num)
                kids = _KIDS.search(body)
                for k in _REF.findall(kids.group(1) if kids else b""):
                    walk(int(k))
            else:
                pages.append(num)

        walk(int(pages_ref.group(1)))
        for num, (body, _data) in parsed.items():
            kind = _TYPE.search(body)
            if kind and kind.group(1) == b"Outlines":
                skip.add(num)
        mapping: dict[int, int] = {}
        for num in sorted(parsed):
            if num in skip:
                mapping[num] = _PAGES  # page-tree nodes collapse into our single root
            else:
                mapping[num] = self.next_num
                self.next_num += 1

        def renumber(m: re.Match[bytes]) -> bytes:
            return b"%d 0 R" % mapping[int(m.group(1))]

        for num in sorted(parsed):
            if num in skip:
                continue
            body, data = parsed[num]
            new = mapping[num]
            self.offsets[new] = self.pos
            out = [b"%d 0 obj\n" % new, _REF.sub(renumber, body)]
            if data is not None:
                out += [b"\nstream\n", data, b"\nendstream"]
                self._digest.update(data[:64])
            out.append(b"\nendobj\n")
            self._write(b"".join(out))
        self.kids.extend(mapping[p] for p in pages)
        return len(pages)

    def close(self) -> None:
        """Write the page tree, catalog, info and cross-reference table."""
        kids = b" ".join(b"%d 0 R" % k for k in self.kids)
        for num, body in (
            (_PAGES, b"<< /Type /Pages /Count %d /Kids [ %s ] >>" % (len(self.kids), kids)),
            (_CATALOG, b"<< /Type /Catalog /Pages %d 0 R /PageMode /UseNone >>" % _PAGES),
            (_INFO, b"<< /Title %s /Creator %s /Producer (badges + ReportLab) >>"
             % (_pdf_string(self.title), _pdf_string(self.creator))),
        ):
            self.offsets[num] = self.pos
            self._write(b"%d 0 obj\n%s\nendobj\n" % (num, body))
        size = self.next_num
        xref_pos = self.pos
        lines = [b"xref\n0 %d\n" % size, b"0000000000 65535 f \n"]
        for num in range(1, size):
            off = self.offsets.get(num)
            lines.append(b"%010d 00000 n \n" % off if off is not None else
                         b"0000000000 65535 f \n")
        doc_id = self._digest.hexdigest().encode("ascii")
        lines.append(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%s><%s>] >>\n"
                     % (size, _CATALOG, _INFO, doc_id, doc_id))
        lines.append(b"startxref\n%d\n%%%%EOF\n" % xref_pos)
        self._write(b"".join(lines))
