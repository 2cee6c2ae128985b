"""Free-text feed dates (pure): ``5 марта 2024 г., 10:15 MSK``, ``March 5, 2024
10:15 PM EST``, ``05.03.2024 10:15``: the tokens, the names they may be, and the
zone table. :mod:`monitor.sources.dates` says which forms are read and how a
reading is judged; this module only reads.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

__all__ = ["EN_MONTHS", "ZONES", "Found", "parse_offset", "read_free_text"]

ZONES: dict[str, int] = {  # minutes east of UTC
    "z": 0, "ut": 0, "utc": 0, "gmt": 0, "wet": 0, "west": 60, "bst": 60, "ist": 330,
    "cet": 60, "cest": 120, "met": 60, "mest": 120, "mez": 60, "mesz": 120, "eet": 120,
    "eest": 180, "msk": 180, "msd": 240, "trt": 180, "tsi": 180, "gst": 240, "irst": 210,
    "aft": 270, "pkt": 300, "npt": 345, "ict": 420, "wib": 420, "hkt": 480, "sgt": 480,
    "pht": 480, "awst": 480, "kst": 540, "jst": 540, "acst": 570, "acdt": 630, "aest": 600,
    "aedt": 660, "nzst": 720, "nzdt": 780, "sast": 120, "cat": 120, "eat": 180, "wat": 60,
    "brt": -180, "art": -180, "clt": -240, "ast": -240, "adt": -180, "nst": -210,
    "ndt": -150, "est": -300, "edt": -240, "cst": -360, "cdt": -300, "mst": -420,
    "mdt": -360, "pst": -480, "pdt": -420, "akst": -540, "akdt": -480, "hst": -600,
}  # fmt: skip

_MONTH_NAMES = (  # (en, fr, de, es, pt, ru nominative + genitive, tr, it, nl) per month
    "january janvier januar janner enero janeiro январь января ocak gennaio januari",
    "february fevrier februar febrero fevereiro февраль февраля subat febbraio februari",
    "march mars marz marzo marco март марта mart maart",
    "april avril abril апрель апреля nisan aprile",
    "may mai mayo maio май мая mayis maggio mei",
    "june juin juni junio junho июнь июня haziran giugno",
    "july juillet juli julio julho июль июля temmuz luglio",
    "august aout agosto август августа agustos augustus",
    "september septembre septiembre setiembre setembro сентябрь сентября eylul settembre",
    "october octobre oktober octubre outubro октябрь октября ekim ottobre",
    "november novembre noviembre novembro ноябрь ноября kasim",
    "december decembre dezember diciembre dezembro декабрь декабря aralik dicembre",
)
_WEEKDAY_NAMES = (  # per language, full and abbreviated, accents dropped
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs "
    "fri sat sun",
    "lundi mardi mercredi jeudi vendredi samedi dimanche lun mar mer jeu ven sam dim",
    "montag dienstag mittwoch donnerstag freitag samstag sonnabend sonntag mo di mi do fr sa so",
    "lunes martes miercoles jueves viernes sabado domingo lun mar mie jue vie sab dom",
    "segunda terca quarta quinta sexta sabado domingo seg ter qua qui sex sab dom",
    "понедельник вторник среда четверг пятница суббота воскресенье пн вт ср чт пт сб вс",
    "pazartesi sali carsamba persembe cuma cumartesi pazar pzt sal car per cum cmt paz",
    "lunedi martedi mercoledi giovedi venerdi sabato domenica lun mar mer gio ven sab dom",
    "maandag dinsdag woensdag donderdag vrijdag zaterdag zondag ma di wo do vr za zo",
)
_NOISE_WORDS = (  # connectors: "5 de marzo de 2024 a las", "am 5. März um 10 Uhr", "2024 г."
    "at on the of",
    "le a",
    "am um uhr den der",
    "de del la las el",
    "de as em o feira",
    "г года год в",
    "saat",
    "alle ore",
    "op om",
)
_WEEKDAYS = frozenset(w for names in _WEEKDAY_NAMES for w in names.split())
_NOISE = frozenset(w for names in _NOISE_WORDS for w in names.split())
_AMPM = frozenset({"am", "pm"})
_MILITARY = frozenset("bcdfghiklmnpqrstuvwx")  # RFC 2822: zone unknown ("a", "e", "o", "y": noise)


@lru_cache(maxsize=4096)
def _fold(word: str) -> str:
    """Lower case, accents and dots dropped: how names are looked up."""
    word = unicodedata.normalize("NFKD", word.lower().replace("ı", "i"))
    return "".join(c for c in word if not unicodedata.combining(c)).rstrip(".")


def _month_table() -> dict[str, int]:
    """Full names, and every prefix of 3+ letters that names one month only."""
    prefixes: dict[str, set[int]] = {}
    full: dict[str, int] = {"mrz": 3, "sept": 9}
    for month, names in enumerate(_MONTH_NAMES, 1):
        for name in names.split():
            name = _fold(name)
            full[name] = month
            for end in range(3, len(name)):
                prefixes.setdefault(name[:end], set()).add(month)
    table = {p: next(iter(ms)) for p, ms in prefixes.items() if len(ms) == 1}
    return {**table, **full}


_MONTHS = _month_table()
_BOTH = frozenset(w for w in _WEEKDAYS if w in _MONTHS)  # "mar": Tuesday (fr, es) or March


class Found(NamedTuple):
    when: datetime  # naive: wall time of ``offset``, or UTC when the zone is unknown
    offset: int | None  # minutes east of UTC; None: zone unknown
    dated_only: bool  # no time of day


EN_MONTHS = {names[:3]: n for n, names in enumerate(_MONTH_NAMES, 1)}  # English comes first


def parse_offset(text: str) -> int | None:
    """Minutes east of UTC of ``+hh``, ``+hhmm`` or ``+hh:mm``; None beyond 14 hours."""
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
    if minutes > 14 * 60 or int(digits[2:4] or 0) > 59:
        return None
    return -minutes if text[0] == "-" else minutes


_TOKEN = re.compile(
    r"(?P<time>\d{1,2}[:h]\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?)"
    r"|(?P<offset>[+-]\d{2}:?\d{2}\b|[+-]\d{1,2}\b)"
    r"|(?P<ndate>\d{1,4}[./-]\d{1,2}[./-]\d{1,4})"
    r"|(?P<num>\d+)(?:st|nd|rd|th|er|eme|e|º|°|\.)?"
    r"|(?P<word>[^\W\d_]+)\.?"
    r"|(?P<sep>[\s,;|]+|[/.\-])"
    r"|(?P<bad>.)"
)


@dataclass
class _Parts:
    """What the tokens of a free-text date said."""

    month: int | None = None  # from a month name
    maybe_month: list[int] = field(default_factory=list)  # names that may be weekdays ("mar")
    ndate: str | None = None  # 05.03.2024
    time: str | None = None
    ampm: str | None = None
    offset: int | None = None  # +0300
    zone: int | None = None  # CET
    unknown_zone: bool = False
    numbers: list[str] = field(default_factory=list)


def read_free_text(s: str) -> Found | None:
    """What ``s`` (lower case, comments and letter-dashes gone) says, or None."""
    parts = _scan(s)
    if parts is None:
        return None
    if parts.month is None and len(parts.maybe_month) == 1:
        parts.month = parts.maybe_month[0]
    try:
        if parts.ndate is not None:
            if parts.month is not None or parts.numbers:
                return None
            ymd = _numeric(parts.ndate)
        elif parts.month is not None:
            ymd = _day_year(parts.numbers, parts.month)
        else:
            return None
        if ymd is None:
            return None
        if parts.time is None:
            return Found(datetime(*ymd), None, True)
        clock = _clock(parts.time, parts.ampm)
        if clock is None:
            return None
        when = datetime(*ymd, *clock)
    except ValueError:
        return None
    offset = parts.offset if parts.offset is not None else parts.zone
    return Found(when, offset, False)


def _scan(s: str) -> _Parts | None:
    """Classify each token of ``s``; None at the first one that is not a date's."""
    parts = _Parts()
    last = ""
    for m in _TOKEN.finditer(s):
        kind = m.lastgroup or "bad"
        value = m[kind]
        if kind == "sep":
            continue
        if kind == "bad" or (kind in ("time", "ndate") and getattr(parts, kind) is not None):
            return None
        if kind in ("time", "ndate"):
            setattr(parts, kind, value)
        elif kind == "offset":
            parts.offset = parse_offset(value) if parts.offset is None else None
            if parts.offset is None:
                return None
        elif kind == "num":
            parts.numbers.append(value)
        elif not _word(parts, _fold(value), last):
            return None
        last = "time" if parts.ampm and kind == "word" and last in ("time", "num") else kind
    return parts


def _word(parts: _Parts, word: str, last: str) -> bool:
    """Record what ``word`` says; False when it says nothing a date says."""
    if word in _AMPM and last in ("time", "num") and parts.ampm is None:
        parts.ampm = word
        if last == "num":  # "10 pm": the number was the hour
            if parts.time is not None:
                return False
            parts.time = parts.numbers.pop()
    elif word in _BOTH:
        parts.maybe_month.append(_MONTHS[word])
    elif word in _MONTHS:
        if parts.month not in (None, _MONTHS[word]):
            return False
        parts.month = _MONTHS[word]
    elif word in _WEEKDAYS or word in _NOISE:
        pass
    elif word in ZONES and parts.zone is None:
        parts.zone = ZONES[word]
    elif (len(word) == 1 and word in _MILITARY) or (last == "time" and len(word) <= 5):
        parts.unknown_zone = True  # "16:59:45 G", "10:15 XYZT": a zone we cannot read
    else:
        return False
    return True


def _day_year(numbers: list[str], month: int) -> tuple[int, int, int] | None:
    """(year, month, day) from the numbers beside a month name."""
    years = [n for n in numbers if len(n) == 4]
    others = [n for n in numbers if len(n) != 4]
    if len(years) > 1 or len(others) != (1 if years else 2) or any(len(n) > 2 for n in others):
        return None
    if years:
        return int(years[0]), month, int(others[0])
    return _century(int(others[1])), month, int(others[0])


def _numeric(ndate: str) -> tuple[int, int, int] | None:
    """(year, month, day) of ``2024/03/05``, ``05.03.2024`` or an unambiguous ``13/03/2024``."""
    seps = set(re.findall(r"[./-]", ndate))
    a, b, c = re.split(r"[./-]", ndate)
    if len(seps) != 1:
        return None
    if len(a) == 4 and len(b) <= 2 and len(c) <= 2:
        return int(a), int(b), int(c)
    if len(a) > 2 or len(b) > 2 or len(c) not in (2, 4):
        return None
    first, second, year = int(a), int(b), _century(int(c))
    if seps == {"."} or first > 12 >= second or first == second:
        return year, second, first  # day first
    if second > 12 >= first:
        return year, first, second
    return None  # 03/05/2024: which is the day cannot be known


def _century(year: int) -> int:
    """RFC 2822's rule for two- and three-digit years."""
    if year < 50:
        return year + 2000
    return year + 1900 if year < 1000 else year


def _clock(text: str, ampm: str | None) -> tuple[int, int, int, int] | None:
    """(hour, minute, second, microsecond) of ``10:15[:30[.5]]``, ``10h15`` or ``10``."""
    fields = re.split(r"[:h]", text)
    hour, minute = int(fields[0]), int(fields[1]) if len(fields) > 1 else 0
    second, _, fraction = (fields[2] if len(fields) > 2 else "0").replace(",", ".").partition(".")
    if ampm == "am":
        if hour > 12:
            return None
        hour = 0 if hour == 12 else hour
    elif ampm == "pm" and hour < 12:
        hour += 12
    return hour, minute, min(int(second), 59), int(fraction[:6].ljust(6, "0"))
