"""Content fingerprints of articles and the scores that compare them.

A :class:`Fingerprint` holds what linking a repost to its original needs
without reading either body again: the normalised title, a MinHash signature
of the body's character shingles, the body's size and the numbers it states.
:func:`band_keys` cuts the signature into LSH bands so that candidates are
found by index look-ups instead of a scan (``govnews.store.textindex``
persists both). Pure functions: no database, no Scrapy.

Tokens are what the corpus body metric uses: every CJK (or other non-ASCII
letter) character is a token of its own and a run of ASCII letters or digits
is one token; punctuation and white space only separate tokens. Shingles are
:data:`SHINGLE_SIZE` consecutive tokens.

The signature is a MinHash of :data:`NUM_PERM` affine permutations over
32-bit shingle hashes: for each permutation ``(a, b)``, the least
``a * fmix32(h) + b mod 2**32`` over the shingle hashes ``h``. That is
datasketch's ``affine32`` scheme (``MinHash(scheme="affine32")`` with the
permutations of :func:`permutations` and the identity as hash function gives
the same values, see :meth:`Fingerprint.to_minhash`), applied with one
vectorised numpy expression: 2.3x faster than ``MinHash.update_batch`` on a
2,000-character text and 6x on 10,000 characters (benchmarks/linking/
fingerprint_speed.py), and shingles are hashed in numpy, not one by one.
The permutations are derived from fixed constants, not from a library's
random generator, so stored signatures stay valid across library versions.
Changing a constant here invalidates stored fingerprints (:data:`SCHEME`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from datasketch import MinHash

#: Tokens per shingle (see the module docstring; measured in benchmarks/linking).
SHINGLE_SIZE = 3
#: Permutations of the MinHash signature; standard error of a Jaccard estimate
#: is sqrt(J(1-J)/NUM_PERM): 0.044 at J = 0.5.
NUM_PERM = 128
#: LSH bands and rows per band used by :func:`band_keys`: 42 x 3 = 126 of the
#: 128 values. Two bodies of Jaccard s share a band with probability
#: 1 - (1 - s**3)**42: 0.04 at 0.1, 0.29 at 0.2, 0.68 at 0.3, 0.93 at 0.4,
#: 0.996 at 0.5, > 0.9999 from 0.6 (the S-curve's midpoint is near 0.29).
BANDS = 42
ROWS = 3
#: A body with fewer distinct shingles than this gets no band keys (an empty
#: body would otherwise share every band with every other empty body).
MIN_BAND_SHINGLES = 8
#: A band key shared by more articles than this is boilerplate (the stock
#: phrases of government news), not evidence: look-ups skip it. It finds
#: nothing specific and would cost most of a look-up (measured on 100,000
#: generated articles: 168 keys hold 9% of all band rows, up to 10,307 each).
COMMON_BAND = 1000
#: Stored title keys are cut to this many characters.
TITLE_KEY_LENGTH = 200
#: Names the token, shingle, hash and permutation definitions above.
SCHEME = "cjk-tokens/3-shingles/fmix32-affine32/128"

Signature = npt.NDArray[np.uint32]

_MASK32 = 0xFFFFFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF
_PERMUTATION_SEED = 0x676F766E657773  # "govnews"
_TOKEN_MULTIPLIER = np.uint64(0x100000001B3)  # FNV-1a 64 prime: ASCII runs
_SHINGLE_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_MIX_MULTIPLIER = np.uint64(0xBF58476D1CE4E5B9)
_BAND_MULTIPLIER = np.uint64(0x94D049BB133111EB)
_RUN_FLAG = np.uint64(1 << 63)
_MAX_RUN = 64  # ASCII run positions weighted beyond this reuse the last weight
_EMPTY_VALUE = np.uint32(_MASK32)

# Text ---------------------------------------------------------------------

_TOKEN = re.compile(r"[a-z0-9]+|[^\W_]")
_NON_WORD = re.compile(r"[\W_]+")
_BRACKET_TAG = re.compile(r"^\s*(?:【[^】]{0,20}】|\[[^\]]{0,20}\]|〔[^〕]{0,20}〕)\s*")
_SEPARATOR = r"(?:\s*(?:(?<![A-Za-z0-9])-+|[_|–—·•]+)\s*|\s+-+\s*|\s{2,})"
_SITE_SUFFIX = re.compile(
    _SEPARATOR
    + r"[^-_|–—·•]{1,30}?(?:网|网站|门户|官网|政府|局|委|委员会|厅|办公室|部|署|院|中心|频道"
    r"|在线|新闻|报|社|平台|政务|[a-z0-9-]+\.(?:com|cn|net|org|gov)(?:\.cn)?)\s*$"
)
_COLUMN_SUFFIX = re.compile(
    _SEPARATOR + r"[^-_|–—·•]{0,8}(?:动态|要闻|新闻|资讯|公告|通知|信息|专栏|频道|聚焦|快讯)\s*$"
)
_UNITS = (
    "年月日时点分秒号元角万亿千百个人名位家户次件项条款批期届轮"
    "场所座栋套台辆艘架头只亩斤公吨米度岁天周倍%‰"
)
# A run of digits and separators, then a unit; the run is cut up in Python (a
# regex that cuts it up itself is seven times slower on long texts).
_NUMBER = re.compile(rf"([0-9][0-9.,:/-]*)[ \t]?([{_UNITS}]?)")
_NUMBER_SEPARATORS = ".,:/-"
_NUMBER_BREAK = re.compile(r",|[.:/-]{2,}")
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")
_DECIMAL = re.compile(r"[0-9]+\.[0-9]+")
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")
_CHINESE_DIGITS = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0}
_CHINESE_DATE = re.compile(
    r"([〇零一二三四五六七八九]{4})\s*年\s*([一二三四五六七八九十]{1,2})\s*月"
    r"\s*([一二三四五六七八九十]{1,3})\s*日"
)


def normalise_title(title: str) -> str:
    """The comparison key of a title: the same for a repost's copy of it.

    NFKC, lower case; a leading tag (【图文】, [转载]) and trailing site or
    column names after a separator (``… - 漳州市人民政府``, ``…_工作动态_某某局``,
    ``…|中国政府网``) are dropped, then every space, punctuation mark and bracket.

    >>> normalise_title("【转载】漳州召开2022年度 “全国文明城市” 创建工作动员会 - 漳州市人民政府")
    '漳州召开2022年度全国文明城市创建工作动员会'
    """
    text = unicodedata.normalize("NFKC", title or "").strip()
    text = _BRACKET_TAG.sub("", text, count=1)
    while (stripped := _SITE_SUFFIX.sub("", text)) not in (text, ""):
        # A column name may stand before the site name: "…_工作动态_某某局".
        text = _COLUMN_SUFFIX.sub("", stripped) or stripped
    return _NON_WORD.sub("", text).lower()


def _normalise_body(text: str) -> str:
    """NFKC and lower case, full-width letters and digits become ASCII (see :func:`_fold`)."""
    return _fold(text)[0]


def tokens(text: str) -> list[str]:
    """The tokens of ``text``: CJK characters one by one, ASCII letter/digit runs whole."""
    return _TOKEN.findall(_normalise_body(text))


def shingles(text: str, n: int = SHINGLE_SIZE) -> set[str]:
    """The distinct shingles of ``n`` consecutive tokens of ``text``.

    Tokens are joined as written, with a space between two ASCII runs. A text
    of fewer than ``n`` tokens is one shingle; an empty text has none.

    >>> sorted(shingles("漳州市，农业"))
    ['州市农', '市农业', '漳州市']
    """
    parts = tokens(text)
    if not parts:
        return set()
    if len(parts) < n:
        return {_join(parts)}
    return {_join(parts[i : i + n]) for i in range(len(parts) - n + 1)}


def _join(parts: list[str]) -> str:
    """Tokens as one string; a space between two ASCII runs keeps them apart."""
    out = parts[0]
    for previous, token in zip(parts, parts[1:], strict=False):
        out += (" " + token) if previous.isascii() and token.isascii() else token
    return out


def numbers(text: str) -> frozenset[str]:
    """The numbers ``text`` states, each with the unit character that follows it.

    ``2022年8月18日`` gives ``2022年``, ``8月``, ``18日``; ``1,200万元`` gives
    ``1200万``; ``3.5%`` gives ``3.5%``; numbers joined by ``:``, ``-``, ``/``
    or several dots stay one (``8:30``, ``0596-2851236``, ``2022.08.18``);
    dates in Chinese numerals (二〇二二年八月十八日) are read as the same
    numbers. Leading zeros are dropped.
    """
    return _numbers(_normalise_body(text))


def _numbers(body: str) -> frozenset[str]:
    """:func:`numbers` of a text already normalised."""
    if "〇" in body or "零" in body:
        body = _CHINESE_DATE.sub(_chinese_date, body)
    found: set[str] = set()
    for match in _NUMBER.finditer(body):
        run, unit = match.groups()
        if run.isdigit():
            found.add((run.lstrip("0") or "0") + unit)
            continue
        if run[-1] in _NUMBER_SEPARATORS:  # "8月18日-" or "第1." : no unit after a separator
            run, unit = run.rstrip(_NUMBER_SEPARATORS), ""
        if "," in run and _THOUSANDS.fullmatch(run):
            pieces = [run.replace(",", "")]
        else:
            pieces = [p.strip(_NUMBER_SEPARATORS) for p in _NUMBER_BREAK.split(run)]
        last = len(pieces) - 1
        for i, piece in enumerate(pieces):
            if not piece:
                continue
            if _DECIMAL.fullmatch(piece):
                whole, fraction = piece.split(".")
                value = f"{whole.lstrip('0') or '0'}.{fraction}"
            else:
                value = _LEADING_ZEROS.sub("", piece)
            found.add(value + unit if i == last else value)
    return frozenset(found)


def _chinese_date(match: re.Match[str]) -> str:
    """二〇二二年八月十八日 as 2022年8月18日."""
    year = "".join(str(_CHINESE_DIGITS[c]) for c in match.group(1))
    return f"{year}年{_chinese_number(match.group(2))}月{_chinese_number(match.group(3))}日"


def _chinese_number(text: str) -> int:
    """A number below 100 in Chinese numerals (十八, 二十, 三十一)."""
    if "十" not in text:
        return _CHINESE_DIGITS.get(text, 0)
    tens, _, units = text.partition("十")
    return (_CHINESE_DIGITS[tens] if tens else 1) * 10 + (_CHINESE_DIGITS[units] if units else 0)


# Hashing ------------------------------------------------------------------


@cache
def _word_table() -> npt.NDArray[np.bool_]:
    """For each BMP code point: is it a token character (``[^\\W_]``)?"""
    plane = "".join(" " if 0xD800 <= c < 0xE000 else chr(c) for c in range(0x10000))
    marked = _NON_WORD.sub(lambda m: "\0" * len(m.group()), plane)
    table: npt.NDArray[np.bool_] = np.frombuffer(marked.encode("utf-32-le"), dtype=np.uint32) != 0
    return table


@cache
def _fold_table() -> npt.NDArray[np.uint32]:
    """For each BMP code point, its NFKC lower-case form when one character, else 0.

    0 also marks characters that need the whole text normalised: combining
    marks, Hangul jamo and every character that can end a canonical
    composition (the text's NFKC is then not the concatenation of its
    characters'). A compatibility form that is only punctuation (… → ...,
    ‼ → !!) becomes one space: the same separator to tokens and numbers.
    Built once, in about 0.05 s.
    """
    seconds = {0x1160 + i for i in range(0xA0)}  # Hangul jamo that compose with a preceding one
    for c in range(0x10000):
        parts = unicodedata.decomposition(chr(c)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            seconds.add(int(parts[1], 16))
    table = np.zeros(0x10000, dtype=np.uint32)
    for c in range(0x10000):
        if 0xD800 <= c < 0xE000 or c in seconds or unicodedata.combining(chr(c)):
            continue
        folded = unicodedata.normalize("NFKC", chr(c)).lower()
        if len(folded) == 1:
            code = ord(folded)
            if (
                code not in seconds
                and not unicodedata.combining(folded)
                and not (0x1100 <= code < 0x1200 or 0x3130 <= code < 0x3190)
            ):
                table[c] = code
        elif _NON_WORD.fullmatch(folded):
            table[c] = 0x20
    table[0] = 0x20
    return table


def _fold(text: str) -> tuple[str, npt.NDArray[np.uint32]]:
    """``text`` in NFKC and lower case, as a string and as code points.

    Vectorised through :func:`_fold_table` (ten times faster than
    ``unicodedata.normalize``); a text with a character the table cannot fold
    on its own (combining marks, jamo, letters outside the BMP but CJK) is
    normalised whole by ``unicodedata`` instead.
    """
    codes = np.frombuffer((text or "").encode("utf-32-le", errors="replace"), dtype=np.uint32)
    in_plane = codes < 0x10000
    folded = _fold_table()[np.where(in_plane, codes, 0)]
    astral = ~in_plane
    simple_astral = (codes >= 0x20000) & (codes < 0x2F800) | (codes >= 0x2FA20) & (codes < 0x40000)
    if np.all(np.where(in_plane, (folded != 0) | (codes == 0), simple_astral)):
        folded = np.where(astral, codes, folded)
        return folded.tobytes().decode("utf-32-le"), folded
    body = unicodedata.normalize("NFKC", text).lower()
    return body, np.frombuffer(body.encode("utf-32-le", errors="replace"), dtype=np.uint32)


@cache
def _run_weights() -> npt.NDArray[np.uint64]:
    """Positional weights of the characters of an ASCII run (powers of the FNV prime)."""
    prime = int(_TOKEN_MULTIPLIER)
    return np.array([pow(prime, i, 1 << 64) for i in range(_MAX_RUN)], dtype=np.uint64)


def _token_ids(text: str) -> npt.NDArray[np.uint64]:
    """The tokens of ``text`` as 64-bit ids, in order (:func:`tokens`, vectorised).

    A one-character token is its code point; an ASCII run of two or more
    characters is a polynomial hash of its characters with the top bit set.
    """
    return _ids(_fold(text)[1])


def _ids(codes: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint64]:
    """:func:`_token_ids` of the code points of a folded text."""
    in_plane = codes < 0x10000
    is_word = _word_table()[np.where(in_plane, codes, 0)]
    if not in_plane.all():
        astral = np.flatnonzero(~in_plane)
        is_word[astral] = [bool(_TOKEN.fullmatch(chr(code))) for code in codes[astral].tolist()]
    positions = np.flatnonzero(is_word)
    kept = codes[positions]
    if kept.size == 0:
        return np.zeros(0, dtype=np.uint64)
    is_ascii = kept < 128
    continues = np.zeros(kept.size, dtype=np.bool_)
    continues[1:] = is_ascii[1:] & is_ascii[:-1] & (np.diff(positions) == 1)
    if not continues.any():
        return kept.astype(np.uint64)
    starts = np.flatnonzero(~continues)
    sizes = np.diff(np.append(starts, kept.size))
    offsets = np.arange(kept.size) - np.repeat(starts, sizes)
    weighted = kept.astype(np.uint64) * _run_weights()[np.minimum(offsets, _MAX_RUN - 1)]
    ids = np.add.reduceat(weighted, starts)
    ids[sizes > 1] |= _RUN_FLAG
    return ids


def _mix64(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """An avalanching 64-bit mix (splitmix64's finaliser), element-wise."""
    values = values ^ (values >> np.uint64(30))
    values = values * _MIX_MULTIPLIER
    values = values ^ (values >> np.uint64(27))
    values = values * _BAND_MULTIPLIER
    return values ^ (values >> np.uint64(31))


def shingle_hashes(text: str, n: int = SHINGLE_SIZE) -> npt.NDArray[np.uint32]:
    """The distinct 32-bit hashes of the shingles of ``text`` (:func:`shingles`), sorted."""
    return _shingle_hashes(_token_ids(text), n)


def _shingle_hashes(ids: npt.NDArray[np.uint64], n: int) -> npt.NDArray[np.uint32]:
    """The distinct 32-bit hashes of the ``n``-token shingles of a token id sequence."""
    if ids.size == 0:
        return np.zeros(0, dtype=np.uint32)
    width = min(n, ids.size)
    count = ids.size - width + 1
    combined = ids[:count].copy()
    for k in range(1, width):
        combined *= _SHINGLE_MULTIPLIER
        combined += ids[k : k + count]
    mixed = _mix64(combined)
    folded = np.sort((mixed ^ (mixed >> np.uint64(32))).astype(np.uint32))
    # np.unique is hash-based in numpy 2 and six times slower than this on long texts.
    distinct: npt.NDArray[np.uint32] = folded[np.append(True, folded[1:] != folded[:-1])]
    return distinct


def _fmix32(values: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """MurmurHash3's 32-bit finaliser, element-wise (the pre-mix of ``affine32``)."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


@cache
def permutations(num_perm: int = NUM_PERM) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """The MinHash permutations ``(a, b)``: ``a`` odd, from a fixed splitmix64 sequence."""
    state = _PERMUTATION_SEED
    values: list[int] = []
    for _ in range(2 * num_perm):
        state = (state + 0x9E3779B97F4A7C15) & _MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        values.append((z ^ (z >> 31)) & _MASK32)
    a = np.array(values[:num_perm], dtype=np.uint32) | np.uint32(1)
    b = np.array(values[num_perm:], dtype=np.uint32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def signature(hashes: npt.NDArray[np.uint32], num_perm: int = NUM_PERM) -> Signature:
    """The MinHash signature of a set of 32-bit shingle hashes (all ``0xFFFFFFFF`` if empty)."""
    a, b = permutations(num_perm)
    if hashes.size == 0:
        return np.full(num_perm, _EMPTY_VALUE, dtype=np.uint32)
    permuted = np.multiply.outer(a, _fmix32(hashes))
    permuted += b[:, np.newaxis]
    result: Signature = permuted.min(axis=1)
    return result


# Fingerprints -------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Fingerprint:
    """What linking compares of an article: title keys, body signature, size and numbers.

    ``length`` counts the body's tokens (about its characters), ``shingle_count``
    its distinct shingles (the set size the signature estimates Jaccard over).
    """

    title_key: str
    minhash: Signature
    length: int
    shingle_count: int
    numbers: frozenset[str] = field(default_factory=frozenset)
    original_title_key: str | None = None

    @property
    def title_keys(self) -> tuple[str, ...]:
        """The non-empty title keys: the title's, then the 原标题's."""
        keys = (self.title_key, self.original_title_key)
        return tuple(dict.fromkeys(key for key in keys if key))

    @property
    def is_empty(self) -> bool:
        """True when the body had no tokens."""
        return self.shingle_count == 0

    def to_minhash(self) -> MinHash:
        """The signature as a datasketch ``MinHash`` (``affine32``, this module's permutations)."""
        from datasketch import MinHash

        return MinHash(
            hashvalues=self.minhash,
            permutations=permutations(self.minhash.size),
            scheme="affine32",
            hashfunc=int,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Fingerprint):
            return NotImplemented
        return (
            self.title_key == other.title_key
            and self.original_title_key == other.original_title_key
            and self.length == other.length
            and self.shingle_count == other.shingle_count
            and self.numbers == other.numbers
            and np.array_equal(self.minhash, other.minhash)
        )


def fingerprint(title: str, body_text: str, original_title: str | None = None) -> Fingerprint:
    """The fingerprint of an article from its title, body text and 原标题 (if any)."""
    body, codes = _fold(body_text)
    ids = _ids(codes)
    hashes = _shingle_hashes(ids, SHINGLE_SIZE)
    original_key = normalise_title(original_title)[:TITLE_KEY_LENGTH] if original_title else ""
    return Fingerprint(
        title_key=normalise_title(title)[:TITLE_KEY_LENGTH],
        minhash=signature(hashes),
        length=int(ids.size),
        shingle_count=int(hashes.size),
        numbers=_numbers(body),
        original_title_key=original_key or None,
    )


# Scores -------------------------------------------------------------------

#: A title contained in the other (a truncated or prefixed title) scores at
#: least this much, when the shorter one has :data:`MIN_CONTAINED_TITLE` characters.
CONTAINED_TITLE_FLOOR = 0.7
MIN_CONTAINED_TITLE = 8


def title_similarity(a: str, b: str) -> float:
    """How alike two titles (or title keys) are, from 0.0 to 1.0.

    1.0 for equal keys. When one key contains the other (a truncated title,
    a prefix added) and the shorter has at least :data:`MIN_CONTAINED_TITLE`
    characters: ``0.7 + 0.3 * shorter/longer``. Otherwise the Jaccard
    similarity of the keys' character bigrams. Empty titles score 0.0.
    """
    return key_similarity(normalise_title(a), normalise_title(b))


def key_similarity(key_a: str, key_b: str) -> float:
    """:func:`title_similarity` of two title keys (already normalised)."""
    if not key_a or not key_b:
        return 0.0
    if key_a == key_b:
        return 1.0
    bigrams_a, bigrams_b = _bigrams(key_a), _bigrams(key_b)
    common = len(bigrams_a & bigrams_b)
    jaccard = common / (len(bigrams_a) + len(bigrams_b) - common)
    shorter, longer = (key_a, key_b) if len(key_a) <= len(key_b) else (key_b, key_a)
    if len(shorter) >= MIN_CONTAINED_TITLE and shorter in longer:
        contained = CONTAINED_TITLE_FLOOR + (1 - CONTAINED_TITLE_FLOOR) * len(shorter) / len(longer)
        return max(jaccard, contained)
    return jaccard


@lru_cache(maxsize=1 << 16)
def _bigrams(key: str) -> frozenset[str]:
    """The character bigrams of a key (the key itself when it has one character)."""
    return frozenset({key[i : i + 2] for i in range(len(key) - 1)} or {key})


def title_score(fa: Fingerprint, fb: Fingerprint) -> float:
    """The best :func:`title_similarity` between two articles' titles and 原标题."""
    return max(
        (key_similarity(a, b) for a in fa.title_keys for b in fb.title_keys),
        default=0.0,
    )


def content_similarity(fa: Fingerprint, fb: Fingerprint) -> float:
    """The MinHash estimate of the Jaccard similarity of two bodies' shingle sets.

    0.0 when either body is empty.
    """
    if fa.is_empty or fb.is_empty:
        return 0.0
    return float(np.count_nonzero(fa.minhash == fb.minhash)) / fa.minhash.size


def containment(fa: Fingerprint, fb: Fingerprint) -> float:
    """How much of the shorter body's shingle set is in the longer one's (estimated).

    ``|A ∩ B| / min(|A|, |B|)``, with ``|A ∩ B| = J (|A| + |B|) / (1 + J)`` from
    the Jaccard estimate ``J``: 1.0 for a trimmed repost or one with a
    paragraph dropped, when the Jaccard similarity alone falls with the cut.
    The estimate is coarse when one body is many times the other; confirm a
    decision with :func:`text_containment` on the stored texts.
    """
    jaccard = content_similarity(fa, fb)
    if jaccard == 0.0:
        return 0.0
    intersection = jaccard * (fa.shingle_count + fb.shingle_count) / (1 + jaccard)
    return min(1.0, intersection / min(fa.shingle_count, fb.shingle_count))


def numbers_agree(repost: Fingerprint, candidate: Fingerprint) -> float:
    """The share of the repost's numbers that the candidate states too.

    1.0 when the repost states none. Template notices (会议通知, 招标公告)
    share nearly all their text but differ in exactly these: dates, amounts,
    counts. A trimmed repost keeps a subset of the original's numbers, so the
    score is directional: pass the repost first.
    """
    if not repost.numbers:
        return 1.0
    return len(repost.numbers & candidate.numbers) / len(repost.numbers)


def text_jaccard(a: str, b: str) -> float:
    """The exact Jaccard similarity of the shingle sets of two texts."""
    sa, sb = shingle_hashes(a), shingle_hashes(b)
    if sa.size == 0 or sb.size == 0:
        return 0.0
    common = np.intersect1d(sa, sb, assume_unique=True).size
    return common / (sa.size + sb.size - common)


def text_containment(a: str, b: str) -> float:
    """The exact share of the shorter text's shingles found in the longer one."""
    sa, sb = shingle_hashes(a), shingle_hashes(b)
    if sa.size == 0 or sb.size == 0:
        return 0.0
    common = np.intersect1d(sa, sb, assume_unique=True).size
    return common / min(sa.size, sb.size)


# LSH bands ----------------------------------------------------------------


def band_probability(similarity: float, bands: int = BANDS, rows: int = ROWS) -> float:
    """The chance that two bodies of Jaccard ``similarity`` share at least one band."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def band_keys(fp: Fingerprint, bands: int = BANDS, rows: int = ROWS) -> list[int]:
    """The LSH band keys of ``fp``: one signed 64-bit integer per band.

    Band ``i`` hashes signature values ``i*rows … (i+1)*rows - 1`` together
    with ``i``, so equal keys mean an equal band (up to 64-bit collisions).
    Keys fit a signed BIGINT. A body with fewer than
    :data:`MIN_BAND_SHINGLES` distinct shingles has no keys (find it by title).
    """
    if fp.shingle_count < MIN_BAND_SHINGLES:
        return []
    keys: list[int] = band_key_matrix(fp.minhash[np.newaxis, :], bands, rows)[0].tolist()
    return keys


def band_key_matrix(
    signatures: npt.NDArray[np.uint32], bands: int = BANDS, rows: int = ROWS
) -> npt.NDArray[np.int64]:
    """:func:`band_keys` of many signatures at once: an ``(n, bands)`` int64 array.

    ``signatures`` is ``(n, NUM_PERM)``; rows of bodies too short to be
    banded are not left out here (compare ``shingle_count`` with
    :data:`MIN_BAND_SHINGLES`).
    """
    if bands * rows > signatures.shape[1]:
        raise ValueError(f"{bands} bands x {rows} rows exceed {signatures.shape[1]} values")
    values = signatures[:, : bands * rows].astype(np.uint64).reshape(-1, bands, rows)
    keys = np.broadcast_to(
        (np.arange(1, bands + 1, dtype=np.uint64) * _BAND_MULTIPLIER) ^ np.uint64(rows),
        values.shape[:2],
    )
    for column in range(rows):
        keys = _mix64(keys ^ values[:, :, column])
    return keys.view(np.int64)
