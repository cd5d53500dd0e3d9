# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The per-article hot path of the matcher in compiled calls (issue 18's speed target).

``html_to_text`` is ``plaintext.html_to_text`` for the markup its fast path reads
(tags that only nest, character references that need no legacy rules); anything else
answers ``NotImplemented`` and goes to the Python code, which defines the result.

``scan`` does for one joined, mended article text what ``Scanner.scan`` does in Python
before it looks at atoms: the fold (``normalize.fold_for_automaton``), the automaton
pass, and turning its matches into sorted, de-duplicated ``(start, -stop, pattern)``
triples in character offsets of the folded text.  It answers ``NotImplemented`` for any
text it does not handle exactly as the Python path does (a character beyond U+FFFF, a
fold output holding white space other than " ", a stray U+0001), and the caller then
takes the Python path: the two agree by construction and by a differential test
(tests/match/test_speedups.py).

The fold table comes from ``normalize.TABLES.scan`` (``install``): per BMP character,
the UTF-8 bytes of its fold, or a mark that the character needs the Python path.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.stdint cimport int32_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcmp

VERSION = 6
"""Raised when the interface changes, so that a stale build is not used."""

cdef extern from "Python.h":
    int PyUnicode_KIND(object)
    void* PyUnicode_DATA(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    Py_UCS4 PyUnicode_READ(int kind, void* data, Py_ssize_t index)
    object PyUnicode_FromKindAndData(int kind, const void* buffer, Py_ssize_t size)
    bint Py_UNICODE_ISSPACE(Py_UCS4 ch)
    int PyUnicode_4BYTE_KIND

cdef uint8_t UNSAFE = 255

cdef bytes _offsets_ref = None
cdef bytes _lengths_ref = None
cdef bytes _blob_ref = None
cdef const uint32_t* _offsets = NULL
cdef const uint8_t* _lengths = NULL
cdef const uint8_t* _blob = NULL


def install(bytes offsets, bytes lengths, bytes blob):
    """Use a fold table: per BMP character, where its UTF-8 fold starts in ``blob``
    (``offsets``: 65,536 native uint32) and its length in bytes (``lengths``: 65,536
    bytes; 255 marks a character that the Python path must handle)."""
    global _offsets_ref, _lengths_ref, _blob_ref, _offsets, _lengths, _blob
    if len(offsets) != 65536 * 4 or len(lengths) != 65536:
        raise ValueError("fold table: 65,536 offsets and lengths expected")
    _offsets_ref = offsets
    _lengths_ref = lengths
    _blob_ref = blob
    _offsets = <const uint32_t*> PyBytes_AS_STRING(offsets)
    _lengths = <const uint8_t*> PyBytes_AS_STRING(lengths)
    _blob = <const uint8_t*> PyBytes_AS_STRING(blob)


def installed():
    return _offsets != NULL


cdef object _fold(str text, bint* ascii_out, bint* even_out, int32_t** src_out=NULL):
    """The UTF-8 fold of ``text`` (``fold_for_automaton(text)[0]``), or None.

    ``ascii_out``: every byte is ASCII; ``even_out``: every character folded to exactly
    one ASCII character (then the translation is one byte per character).  ``src_out``:
    if given, receives (on success; the caller frees it) an array that holds for each
    byte of the fold but its spaces the index of the character of ``text`` it comes
    from: recorded in the same pass, where a second fold used to cost as much again for
    every article with a hit."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t cap = 2 * n + 16
    cdef Py_ssize_t pos = 0
    cdef Py_ssize_t i
    cdef Py_UCS4 c
    cdef uint32_t a, b, k
    cdef uint8_t byte
    cdef uint8_t high = 0
    cdef bint space = True  # the leading space is written
    cdef bint even = True
    cdef uint8_t* out = <uint8_t*> PyMem_Malloc(cap)
    cdef uint8_t* grown
    cdef int32_t* src = NULL
    cdef int32_t* src_grown
    if out == NULL:
        raise MemoryError()
    if src_out != NULL:
        src = <int32_t*> PyMem_Malloc(cap * sizeof(int32_t))
        if src == NULL:
            PyMem_Free(out)
            raise MemoryError()
    try:
        out[0] = 32
        pos = 1
        for i in range(n):
            c = PyUnicode_READ(kind, data, i)
            if c > 0xFFFF:
                return None
            if _lengths[c] == UNSAFE:
                return None
            a = _offsets[c]
            b = a + _lengths[c]
            if b - a == 1 and pos + 3 <= cap:  # most characters: one byte, room for it
                byte = _blob[a]
                if byte == 32:
                    if not space:
                        out[pos] = 32
                        pos += 1
                        space = True
                else:
                    if src != NULL:
                        src[pos] = <int32_t> i
                    out[pos] = byte
                    pos += 1
                    space = False
                    high |= byte
                continue
            if b - a != 1:
                even = False
            if pos + <Py_ssize_t> (b - a) + 2 > cap:
                cap = 2 * cap + <Py_ssize_t> (b - a) + 2
                grown = <uint8_t*> PyMem_Realloc(out, cap)
                if grown == NULL:
                    raise MemoryError()
                out = grown
                if src != NULL:
                    src_grown = <int32_t*> PyMem_Realloc(src, cap * sizeof(int32_t))
                    if src_grown == NULL:
                        raise MemoryError()
                    src = src_grown
            for k in range(a, b):
                byte = _blob[k]
                if byte == 32:
                    if not space:
                        out[pos] = 32
                        pos += 1
                        space = True
                else:
                    if src != NULL:
                        src[pos] = <int32_t> i
                    out[pos] = byte
                    pos += 1
                    space = False
                    high |= byte
        if not space:
            out[pos] = 32
            pos += 1
        if pos == 1:  # nothing but white space: "  ", as the Python path writes it
            out[pos] = 32
            pos += 1
        ascii_out[0] = high < 0x80
        even_out[0] = even and high < 0x80
        folded = PyBytes_FromStringAndSize(<char*> out, pos)
        if src_out != NULL:
            src_out[0] = src  # the caller's now
            src = NULL
        return folded
    finally:
        PyMem_Free(out)
        PyMem_Free(src)


def fold(str text):
    """``fold_for_automaton(text)[0]``, or None when the Python path must do it."""
    cdef bint ascii, even
    if _offsets == NULL:
        raise RuntimeError("no fold table installed")
    return _fold(text, &ascii, &even)


cdef Py_ssize_t _rfind_space(const uint8_t* d, Py_ssize_t end):
    # data.rfind(b" ", 0, end)
    cdef Py_ssize_t i = end - 1
    while i >= 0 and d[i] != 32:
        i -= 1
    return i


cdef Py_ssize_t _find_space(const uint8_t* d, Py_ssize_t start, Py_ssize_t n):
    # data.find(b" ", start)
    cdef Py_ssize_t i = start
    while i < n and d[i] != 32:
        i += 1
    return i if i < n else -1


cdef uint64_t FNV_OFFSET = 14695981039346656037ULL
cdef uint64_t FNV_PRIME = 1099511628211ULL

cdef int FILTER_BITS = 20  # monitor/speedups.py: _FILTER_BITS
cdef int PREFIX_FILTER_BITS = 12  # monitor/speedups.py: _PREFIX_FILTER_BITS


cdef class Words:
    """The automaton's whole-word keys (``" ai act "``) and the keys open at their end
    (``" biometr"``), found word by word: each word of the folded text is hashed once and
    looked up by its first word (or, for a one-word prefix, by each prefix length that
    some key has).  Keys open at their start stay with the automaton (``residual``)."""

    cdef bytes _blob
    cdef const uint8_t* blob
    cdef list _keep
    cdef const uint64_t* a_hash
    cdef const int32_t* a_head
    cdef uint64_t a_mask
    cdef const uint64_t* b_hash
    cdef const int32_t* b_head
    cdef uint64_t b_mask
    cdef uint64_t prefix_lengths
    cdef const uint8_t* filter
    cdef const uint8_t* prefix_filter
    cdef const int32_t* c_pid
    cdef const int32_t* c_next
    cdef const uint32_t* c_off
    cdef const uint32_t* c_len
    cdef const uint8_t* c_open
    cdef readonly list residual
    """The pattern ids left to the automaton, in the order given to it."""

    def __init__(self, list residual, uint64_t prefix_lengths, list tables):
        """Built by ``monitor.speedups.word_index`` (in Python: a long build in compiled
        code would hold the GIL, and the service compiles matchers in a thread)."""
        self.residual = residual
        self.prefix_lengths = prefix_lengths
        self.a_mask = len(tables[0]) // 8 - 1
        self.b_mask = len(tables[2]) // 8 - 1
        if len(tables[4]) != 1 << (FILTER_BITS - 3):
            raise ValueError("word index: wrong filter size")
        if len(tables) != 12 or len(tables[11]) != 1 << (PREFIX_FILTER_BITS - 3):
            raise ValueError("word index: wrong prefix filter size")
        self._keep = tables
        k = tables
        self.a_hash = <const uint64_t*> PyBytes_AS_STRING(k[0])
        self.a_head = <const int32_t*> PyBytes_AS_STRING(k[1])
        self.b_hash = <const uint64_t*> PyBytes_AS_STRING(k[2])
        self.b_head = <const int32_t*> PyBytes_AS_STRING(k[3])
        self.filter = <const uint8_t*> PyBytes_AS_STRING(k[4])
        self.c_pid = <const int32_t*> PyBytes_AS_STRING(k[5])
        self.c_next = <const int32_t*> PyBytes_AS_STRING(k[6])
        self.c_off = <const uint32_t*> PyBytes_AS_STRING(k[7])
        self.c_len = <const uint32_t*> PyBytes_AS_STRING(k[8])
        self.c_open = <const uint8_t*> PyBytes_AS_STRING(k[9])
        self._blob = k[10]
        self.prefix_filter = <const uint8_t*> PyBytes_AS_STRING(k[11])
        self.blob = <const uint8_t*> PyBytes_AS_STRING(self._blob)

    cdef inline int32_t _head(self, const uint64_t* hashes, const int32_t* heads,
                              uint64_t mask, uint64_t h):
        cdef uint64_t f = h >> (64 - FILTER_BITS)
        if not (self.filter[f >> 3] >> (f & 7)) & 1:
            return -1
        cdef uint64_t slot = h & mask
        while heads[slot] != -1:
            if hashes[slot] == h:
                return heads[slot]
            slot = (slot + 1) & mask
        return -1

    cdef int find(self, const uint8_t* d, Py_ssize_t n, set raw) except -1:
        """Add ``(start, -stop, pattern)`` for every key found in ``d`` to ``raw``."""
        cdef Py_ssize_t i = 0
        cdef Py_ssize_t ws, we, L, stop, l
        cdef uint64_t h
        cdef int32_t c
        cdef int32_t pending[64]
        cdef int npending, q
        cdef uint64_t f
        while i < n:
            if d[i] == 32:
                i += 1
                continue
            ws = i
            h = FNV_OFFSET
            npending = 0
            l = 0
            while i < n and d[i] != 32:
                h = (h ^ d[i]) * FNV_PRIME
                i += 1
                l += 1
                if l < 64 and (self.prefix_lengths >> l) & 1:
                    # Most words look up several lengths: the prefixes' own filter, 512
                    # bytes, stays in the first-level cache (with thousands of prefixes
                    # it fills up, and the main filter decides).
                    f = h >> (64 - PREFIX_FILTER_BITS)
                    if not (self.prefix_filter[f >> 3] >> (f & 7)) & 1:
                        continue
                    c = self._head(self.b_hash, self.b_head, self.b_mask, h)
                    while c != -1:
                        if (self.c_len[c] == l
                                and memcmp(d + ws, self.blob + self.c_off[c], l) == 0
                                and npending < 64):
                            pending[npending] = c
                            npending += 1
                        c = self.c_next[c]
            we = i
            for q in range(npending):
                raw.add((ws, -we, self.c_pid[pending[q]]))
            c = self._head(self.a_hash, self.a_head, self.a_mask, h)
            while c != -1:
                L = self.c_len[c]
                if ws + L <= n and memcmp(d + ws, self.blob + self.c_off[c], L) == 0:
                    if self.c_open[c]:
                        stop = ws + L
                        while stop < n and d[stop] != 32:
                            stop += 1
                        raw.add((ws, -stop, self.c_pid[c]))
                    elif ws + L < n and d[ws + L] == 32:
                        raw.add((ws, -(ws + L), self.c_pid[c]))
                c = self.c_next[c]
        return 0


def scan(str text, Words words, object find, list shapes, Py_ssize_t breaks):
    """Fold ``text`` and find every key in it: ``words`` for the keys it holds, ``find``
    (the residual automaton's ``find_matches_as_indexes``, or None) for the others.

    Returns None when nothing was found; else ``(folded, translated, raw, spans,
    breaks)``: the folded text as str, the translation as ASCII bytes when every
    character folded to one ASCII character (else None), the sorted distinct ``(start,
    -stop, pattern)`` in characters of ``folded``, per ``(start, stop)`` of a hit the
    ``(start, end)`` in ``text`` of the characters that its first and last letter come
    from (what ``FoldedText.span`` computes before it takes in trailing marks and mended
    places), and where the field breaks (U+0001) are in ``folded``, in characters.
    ``NotImplemented``: the Python path must do it (also when the fold does not hold
    exactly ``breaks`` field breaks).
    """
    cdef bint ascii, even
    cdef int32_t* src = NULL
    if _offsets == NULL:
        raise RuntimeError("no fold table installed")
    data = _fold(text, &ascii, &even, &src)
    if data is None:
        return NotImplemented
    try:
        return _found(text, data, ascii, even, src, words, find, shapes, breaks)
    finally:
        PyMem_Free(src)


cdef object _found(str text, bytes data, bint ascii, bint even, const int32_t* src,
                   Words words, object find, list shapes, Py_ssize_t breaks):
    # ``scan`` once the text is folded (``src``: from the fold, freed by the caller).
    cdef Py_ssize_t n, start, end, stop, j, count
    cdef const uint8_t* d
    cdef object pid, shape
    cdef int* chars
    cdef list residual
    d = <const uint8_t*> PyBytes_AS_STRING(data)
    n = PyBytes_GET_SIZE(data)
    count = 0
    for j in range(n):
        if d[j] == 1:
            count += 1
    if count != breaks:
        return NotImplemented
    raw = set()
    words.find(d, n, raw)
    if find is not None:
        residual = words.residual
        for pid, start, end in find(data, True):
            pid = residual[pid]
            shape = shapes[pid]
            if shape is None:  # " key ": the space either side is not part of the hit
                raw.add((start + 1, 1 - end, pid))
            else:
                if shape[0]:
                    start = _rfind_space(d, start) + 1
                else:
                    start += 1
                stop = _find_space(d, end, n) if shape[1] else end - 1
                raw.add((start, -stop, pid))
    if not raw:
        return None
    # Where each hit is in ``text``: the characters that gave its first and last byte.
    spans = {}
    for hit in raw:
        start = hit[0]
        stop = -<Py_ssize_t> hit[1]
        spans[start, stop] = (src[start], src[stop - 1] + 1)
    places = []
    for j in range(n):
        if d[j] == 1:
            places.append(j)
    if ascii:
        folded = (<bytes> data).decode("ascii")
    else:
        folded = (<bytes> data).decode("utf-8")
        # Byte offsets to character offsets: the number of lead bytes before each.
        chars = <int*> PyMem_Malloc((n + 1) * sizeof(int))
        if chars == NULL:
            raise MemoryError()
        try:
            count = 0
            for j in range(n):
                chars[j] = count
                if (d[j] & 0xC0) != 0x80:
                    count += 1
            chars[n] = count
            mapped = set()
            for hit in raw:
                start = hit[0]
                stop = -<Py_ssize_t> hit[1]
                mapped.add((chars[start], -chars[stop], hit[2]))
            raw = mapped
            spans = {(chars[k[0]], chars[k[1]]): v for k, v in spans.items()}
            places = [chars[j] for j in places]
        finally:
            PyMem_Free(chars)
    translated = _translation(text) if even else None
    return folded, translated, sorted(raw) if len(raw) > 1 else list(raw), spans, tuple(places)


def accept(list raw, tuple starts, list plain, object scan, object check, list hits):
    """``Scanner._accept``: for each ``(start, -stop, pattern)`` of ``raw``, its field
    (``bisect_right(starts, start)``) and, when ``plain[pattern]`` holds the pattern's
    atoms (none of them needs a check), ``(atom, field, start, stop)`` appended to
    ``hits`` for each; else (None) ``check(scan, pattern, field, start, stop)``, which
    appends what passes, so that ``hits`` keeps the order of ``raw``."""
    cdef Py_ssize_t lo, hi, mid, n = len(starts)
    cdef object start, stop, pid, ids, atom, field
    for item in raw:
        start = item[0]
        stop = -item[1]
        pid = item[2]
        lo = 0
        hi = n
        while lo < hi:
            mid = (lo + hi) // 2
            if start < starts[mid]:
                hi = mid
            else:
                lo = mid + 1
        field = lo
        ids = plain[pid]
        if ids is None:
            check(scan, pid, field, start, stop)
        else:
            for atom in <tuple> ids:
                hits.append((atom, field, start, stop))


cdef bytes _translation(str text):
    # ``text.translate(scan)`` as ASCII bytes, for a text whose every character folds to
    # exactly one ASCII character (before runs of word breaks are collapsed).
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t i
    out = PyBytes_FromStringAndSize(NULL, n)
    cdef uint8_t* o = <uint8_t*> PyBytes_AS_STRING(out)
    for i in range(n):
        o[i] = _blob[_offsets[PyUnicode_READ(kind, data, i)]]
    return out


# -- html_to_text ---------------------------------------------------------------------------


cdef inline bint _html_space(Py_UCS4 c):
    return c == 32 or c == 9 or c == 10 or c == 12 or c == 13


cdef inline bint _ascii_letter(Py_UCS4 c):
    return (65 <= c <= 90) or (97 <= c <= 122)


cdef inline bint _ascii_alnum(Py_UCS4 c):
    return _ascii_letter(c) or (48 <= c <= 57)


cdef inline bint _name_start(Py_UCS4 c):
    return _ascii_letter(c) or c == 95 or c == 58  # _ :


cdef inline bint _name_char(Py_UCS4 c):
    return _ascii_alnum(c) or c == 45 or c == 95 or c == 58 or c == 46  # - _ : .


cdef inline bint _unquoted(Py_UCS4 c):
    # [^\t\n\f\r "'=<>`]
    return not (_html_space(c) or c == 34 or c == 39 or c == 61 or c == 60 or c == 62 or c == 96)


cdef Py_ssize_t _tag_end(int kind, void* d, Py_ssize_t n, Py_ssize_t p, Py_ssize_t* name_end):
    """End of the ``plaintext._TAG`` match at ``p`` (a "<"), or -1: the same possessive
    reading as the regular expression, which never backtracks into a tag."""
    cdef Py_ssize_t i = p + 1
    cdef Py_ssize_t j, k
    cdef Py_UCS4 c, q
    if i < n and PyUnicode_READ(kind, d, i) == 47:  # /
        i += 1
    if i >= n or not _ascii_letter(PyUnicode_READ(kind, d, i)):
        return -1
    i += 1
    while i < n and _ascii_alnum(PyUnicode_READ(kind, d, i)):
        i += 1
    name_end[0] = i
    if i >= n:
        return -1
    c = PyUnicode_READ(kind, d, i)
    if not (_html_space(c) or c == 47 or c == 62):  # the lookahead: [\t\n\f\r />]
        return -1
    while True:  # (?:attribute)*+
        j = i
        while j < n and _html_space(PyUnicode_READ(kind, d, j)):
            j += 1
        if j == i or j >= n or not _name_start(PyUnicode_READ(kind, d, j)):
            break
        j += 1
        while j < n and _name_char(PyUnicode_READ(kind, d, j)):
            j += 1
        # (?:\s*+=\s*+(?:"[^"]*+"|'[^']*+'|[^\s"'=<>`]++))?+
        k = j
        while k < n and _html_space(PyUnicode_READ(kind, d, k)):
            k += 1
        if k < n and PyUnicode_READ(kind, d, k) == 61:  # =
            k += 1
            while k < n and _html_space(PyUnicode_READ(kind, d, k)):
                k += 1
            if k < n:
                q = PyUnicode_READ(kind, d, k)
                if q == 34 or q == 39:
                    k += 1
                    while k < n and PyUnicode_READ(kind, d, k) != q:
                        k += 1
                    if k < n:
                        j = k + 1
                elif _unquoted(q):
                    k += 1
                    while k < n and _unquoted(PyUnicode_READ(kind, d, k)):
                        k += 1
                    j = k
        i = j
    while i < n and _html_space(PyUnicode_READ(kind, d, i)):
        i += 1
    if i < n and PyUnicode_READ(kind, d, i) == 47:
        i += 1
    if i < n and PyUnicode_READ(kind, d, i) == 62:
        return i + 1
    return -1


cdef bint _cut_tag(int kind, void* d, Py_ssize_t n, Py_ssize_t p):
    """Whether the "<" at ``p`` starts a tag cut off by the end of the input
    (``plaintext._CUT_TAG``): "<", "/"?, a letter, and no ">" after it."""
    cdef Py_ssize_t i = p + 1
    if i < n and PyUnicode_READ(kind, d, i) == 47:
        i += 1
    if i >= n or not _ascii_letter(PyUnicode_READ(kind, d, i)):
        return False
    while i < n:
        if PyUnicode_READ(kind, d, i) == 62:
            return False
        i += 1
    return True


cdef inline bint _plain_code_point(long code):
    if code < 0xA0:
        return (0x20 <= code < 0x7F) or code == 0x09 or code == 0x0A or code == 0x0C
    if 0xD800 <= code <= 0xDFFF or 0xFDD0 <= code <= 0xFDEF or code > 0x10FFFF:
        return False
    return (code & 0xFFFE) != 0xFFFE


cdef inline int _hex(Py_UCS4 c):
    cdef int v = <int> c
    if 48 <= v <= 57:
        return v - 48
    if 97 <= v <= 102:
        return v - 87
    if 65 <= v <= 70:
        return v - 55
    return -1


def html_to_text(str html, dict tag_text, dict references):
    """``plaintext.html_to_text(html)``, or ``NotImplemented`` for markup that its
    Python code must read (``tag_text``: ``plaintext._TAG_TEXT``; ``references``:
    ``html.entities.html5``)."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(html)
    cdef int kind = PyUnicode_KIND(html)
    cdef void* d = PyUnicode_DATA(html)
    cdef Py_ssize_t i, j, k, e, name_end, pos
    cdef Py_UCS4 c, f
    cdef long code
    cdef int digits, h
    cdef bint space = True  # at the start: leading white space is dropped
    cdef Py_UCS4* out
    cdef str value
    if n == 0:
        return ""
    out = <Py_UCS4*> PyMem_Malloc(n * sizeof(Py_UCS4))
    if out == NULL:
        raise MemoryError()
    pos = 0
    try:
        i = 0
        while i < n:
            c = PyUnicode_READ(kind, d, i)
            if c == 0 or 0xD800 <= c <= 0xDFFF:
                return NotImplemented  # NUL: lexbor drops it; a lone surrogate: lexbor
            if c == 60:  # <
                e = _tag_end(kind, d, n, i, &name_end)
                if e < 0:
                    if _cut_tag(kind, d, n, i):
                        break  # a summary cut in the middle of a tag: the text before it
                    return NotImplemented  # not a tag: the Python path
                name = html[i + 1 : name_end]  # with its "/": "/p"
                text = tag_text.get(name)
                if text is None:
                    text = tag_text.get(name.lower())
                    if text is None:
                        return NotImplemented  # an element that may move or hide text
                if text:  # a block element: a word break
                    if not space:
                        out[pos] = 32
                        pos += 1
                        space = True
                i = e
                continue
            if c == 38:  # &: a character reference, or a bare "&"
                value = None
                j = i + 1
                f = PyUnicode_READ(kind, d, j) if j < n else 0
                if _ascii_letter(f):
                    k = j + 1
                    while k < n and k - j < 32 and _ascii_alnum(PyUnicode_READ(kind, d, k)):
                        k += 1
                    if k < n and PyUnicode_READ(kind, d, k) == 59:  # ;
                        value = references.get(html[j : k + 1])
                        if value is None:
                            return NotImplemented  # maybe a legacy prefix ("&notit;")
                        i = k + 1
                elif f == 35:  # #
                    k = j + 1
                    code = 0
                    digits = 0
                    if k < n and (PyUnicode_READ(kind, d, k) == 120 or PyUnicode_READ(kind, d, k) == 88):
                        k += 1
                        while k < n and digits < 7:
                            h = _hex(PyUnicode_READ(kind, d, k))
                            if h < 0:
                                break
                            code = code * 16 + h
                            digits += 1
                            k += 1
                        if 1 <= digits <= 6 and k < n and PyUnicode_READ(kind, d, k) == 59:
                            value = ""
                    else:
                        while k < n and digits < 8:
                            c = PyUnicode_READ(kind, d, k)
                            if not (48 <= c <= 57):
                                break
                            code = code * 10 + (<long> c - 48)
                            digits += 1
                            k += 1
                        if 1 <= digits <= 7 and k < n and PyUnicode_READ(kind, d, k) == 59:
                            value = ""
                    if value is not None:
                        if not _plain_code_point(code):
                            return NotImplemented
                        value = chr(code)
                        i = k + 1
                if value is None:
                    if _ascii_alnum(f) or f == 35:
                        return NotImplemented  # a reference without ";"
                    value = "&"
                    i += 1
                for c in value:
                    if Py_UNICODE_ISSPACE(c):
                        if not space:
                            out[pos] = 32
                            pos += 1
                            space = True
                    else:
                        out[pos] = c
                        pos += 1
                        space = False
                continue
            if Py_UNICODE_ISSPACE(c):
                if not space:
                    out[pos] = 32
                    pos += 1
                    space = True
            else:
                out[pos] = c
                pos += 1
                space = False
            i += 1
        if pos and space:
            pos -= 1  # the trailing space
        return PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, pos)
    finally:
        PyMem_Free(out)


cdef inline bint _control(Py_UCS4 c):
    # snippets._CONTROL: the characters that ``_FLATTEN`` makes spaces.
    return c < 32 or c == 0x7F or c == 0x2028 or c == 0x2029


cdef object _snippet(str text, Py_ssize_t start, Py_ssize_t end, object marks,
                     Py_ssize_t context, str ellipsis, dict flatten):
    """``(body, marks)`` of ``snippets.make_snippet``, or ``NotImplemented``."""
    cdef Py_ssize_t size = PyUnicode_GET_LENGTH(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void* d = PyUnicode_DATA(text)
    cdef Py_ssize_t lo, hi, i, shift, s, e
    cdef bint whole, flat = False
    cdef str body
    cdef list kept
    if not (0 <= start <= end <= size) or context < 0:
        return NotImplemented
    whole = size <= 2 * context + (end - start)
    lo = start - context
    if whole:
        lo = 0
        hi = size
    elif lo > 0:
        i = lo
        while i < start and PyUnicode_READ(kind, d, i) != 32:
            i += 1
        if i < start:
            lo = i + 1
    else:
        lo = 0
    if not whole:
        hi = end + context
        if hi < size:
            i = hi - 1
            while i >= end and PyUnicode_READ(kind, d, i) != 32:
                i -= 1
            if i >= end:
                hi = i
        else:
            hi = size
    while lo < start and Py_UNICODE_ISSPACE(PyUnicode_READ(kind, d, lo)):
        lo += 1
    while hi > end and Py_UNICODE_ISSPACE(PyUnicode_READ(kind, d, hi - 1)):
        hi -= 1
    for i in range(lo, hi):
        if _control(PyUnicode_READ(kind, d, i)):
            flat = True
            break
    body = text[lo:hi]
    if flat:
        body = body.translate(flatten)
    shift = -lo
    if lo:
        shift += PyUnicode_GET_LENGTH(ellipsis)
        body = ellipsis + body + ellipsis if hi < size else ellipsis + body
    elif hi < size:
        body += ellipsis
    if not marks:
        return body, ((start + shift, end + shift),) if start < end else ()
    kept = [(start + shift, end + shift)] if start < end else []
    for s, e in set(marks):
        if lo <= s and e <= hi and s < e and (s != start or e != end):
            kept.append((s + shift, e + shift))
    kept.sort()
    return body, tuple(kept)


def snippet(str text, Py_ssize_t start, Py_ssize_t end, object marks, Py_ssize_t context,
            object make, str ellipsis, dict flatten):
    """``snippets.make_snippet(text, start, end, marks, context)`` made by ``make``
    (``Snippet``), or ``NotImplemented`` for a span outside ``text`` (``ellipsis``:
    ``snippets.ELLIPSIS``; ``flatten``: ``snippets._FLATTEN``)."""
    made = _snippet(text, start, end, marks, context, ellipsis, flatten)
    if made is NotImplemented:
        return made
    return make(*made)


# -- results ------------------------------------------------------------------------------

cdef extern from "Python.h":
    int PyObject_GenericSetAttr(object o, object name, object value) except -1


cdef object _frozen(type cls, tuple names, tuple values):
    # An instance of a frozen, slotted dataclass without its ``__init__``: what the
    # generated one does (``object.__setattr__`` per field), without a Python frame and
    # a method look-up per field.  The caller gives every field (no default applies).
    cdef Py_ssize_t i
    obj = cls.__new__(cls)
    for i in range(len(names)):
        PyObject_GenericSetAttr(obj, names[i], values[i])
    return obj


cdef class Results:
    """Builds the matcher's ``Hit`` (with its ``Snippet``) and ``Match`` objects: about a
    third of what a matched article costs is their ``__init__`` (frozen dataclasses set
    each field through ``object.__setattr__``).  The same objects, equal field by field."""

    cdef type hit_cls, snippet_cls, match_cls
    cdef tuple hit_names, snippet_names, match_names
    cdef Py_ssize_t context
    cdef str ellipsis
    cdef dict flatten

    def __init__(self, type hit_cls, tuple hit_names, type snippet_cls, tuple snippet_names,
                 type match_cls, tuple match_names, Py_ssize_t context, str ellipsis,
                 dict flatten):
        """``*_names``: the classes' fields in order: ``Hit`` (term, text, field, start,
        end, snippet, actor, form), ``Snippet`` (text, marks), ``Match`` (watchlist,
        score, hits, hit_count, prominence); the rest as for :func:`snippet`."""
        if len(hit_names) != 8 or len(snippet_names) != 2 or len(match_names) != 5:
            raise ValueError("results: unexpected fields")
        self.hit_cls = hit_cls
        self.hit_names = hit_names
        self.snippet_cls = snippet_cls
        self.snippet_names = snippet_names
        self.match_cls = match_cls
        self.match_names = match_names
        self.context = context
        self.ellipsis = ellipsis
        self.flatten = flatten

    def hit(self, str text, Py_ssize_t start, Py_ssize_t end, object marks, object term,
            object field, object actor, object form):
        """``Hit(term, text[start:end], field, start, end, make_snippet(text, start, end,
        marks), actor, form)``, or ``NotImplemented`` for a span outside ``text``."""
        made = _snippet(text, start, end, marks, self.context, self.ellipsis, self.flatten)
        if made is NotImplemented:
            return made
        snippet = _frozen(self.snippet_cls, self.snippet_names, made)
        return _frozen(
            self.hit_cls,
            self.hit_names,
            (term, text[start:end], field, start, end, snippet, actor, form),
        )

    def match(self, object watchlist, object score, tuple hits, Py_ssize_t hit_count,
              object prominence):
        """``Match(watchlist, score, hits, hit_count, prominence)`` (its ``__post_init__``
        included: ``hit_count`` is at least ``len(hits)``)."""
        if hit_count < len(hits):
            hit_count = len(hits)
        return _frozen(
            self.match_cls, self.match_names, (watchlist, score, hits, hit_count, prominence)
        )


def list_marks(str text):
    """The list marks that ``prominence.is_roundup`` counts in ``text``, in one pass: the
    bullets (``_BULLETS``) and the non-overlapping "\\n- ", "\\n* " and " | "."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef int kind = PyUnicode_KIND(text)
    cdef void* d = PyUnicode_DATA(text)
    cdef Py_ssize_t i = 0, count = 0
    cdef Py_UCS4 c, b
    while i < n:
        c = PyUnicode_READ(kind, d, i)
        if c == 0x2022 or c == 0xB7 or c == 0x25AA or c == 0x25BA or c == 0x25A0:
            count += 1
        elif (c == 10 or c == 32) and i + 2 < n:
            b = PyUnicode_READ(kind, d, i + 2)
            if b == 32:
                b = PyUnicode_READ(kind, d, i + 1)
                if c == 10 and (b == 45 or b == 42):
                    count += 1  # its last space may begin a " | ": go on from the "-"
                elif c == 32 and b == 124:
                    count += 1
                    i += 3  # str.count: non-overlapping, so " | | " is one
                    continue
        i += 1
    return count
