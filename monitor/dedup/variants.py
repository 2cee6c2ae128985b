"""The small tables that make two spellings one name or one number (pure data + lookups).

Forms are written as :func:`monitor.dedup.words.fold` leaves them: case-folded, without
diacritics, other scripts transliterated to ASCII (``anyascii``: ``Турция`` -> ``turtsiia``
is not listed here: other scripts meet through the rules' entities, see
``words.entities``). Each table is general, not tuned to any fixture:

* :data:`COUNTRIES`: the states a desk follows most, each with its demonym and the
  forms the English-language press uses (``Türkiye``, ``Turkish``; ``Mexican``). A
  country's key is its name (``turkey``).
* :data:`ABBREVIATIONS`: multi-word names and their abbreviations, dotted or not
  (``US`` / ``U.S.`` / ``USA`` / ``United States``; ``NYC`` / ``New York City`` /
  ``New York``; ``UN``; ``EU``; ``UK`` / ``Britain``; ``N. Korea``).
* :data:`AFFILIATES`: a state's institutions, which stand for it (``PLA`` / ``China``,
  ``IDF`` / ``Israel``, ``Kremlin`` / ``Russia``).
* :data:`STREET`: ``St`` / ``Street``, ``Ave`` / ``Avenue``, ``Rd`` / ``Road``.
* :data:`NUMBER_WORDS`: cardinals one to twenty and the tens, ordinals to the twelfth
  (English), and one to ten in the languages the desk reads most (de, fr, es, ru, tr).
* :data:`MAGNITUDES`: thousand / million / billion in words and abbreviations
  (``150k``, ``150 thousand``, ``$1.5bn``, ``1,5 Milliarden``, ``411 тыс.``,
  ``142 مليار``), crore and lakh.
* :data:`MONTHS`: month names, so a dateline's day (``May 6``, ``6 мая``) is no number.
* :data:`ACTS`: predicates that are one act whoever does it (strike / fire / attack;
  accuse / charge / blame; expel / summon ...): the role veto's "the same act, the roles
  reversed"; :data:`MUTUAL`: predicates of a mutual act (seal, sign, meet, talk ...).
"""

from __future__ import annotations

COUNTRIES: dict[str, tuple[str, ...]] = {
    "albania": ("albanian",),
    "angola": ("angolan",),
    "bahrain": ("bahraini",),
    "bangladesh": ("bangladeshi",),
    "bolivia": ("bolivian",),
    "bosnia": ("bosnian", "bosnia and herzegovina"),
    "burkina faso": ("burkinabe",),
    "cambodia": ("cambodian",),
    "cameroon": ("cameroonian",),
    "chad": ("chadian",),
    "chile": ("chilean",),
    "congo": ("congolese", "drc"),
    "croatia": ("croatian",),
    "djibouti": ("djiboutian",),
    "ecuador": ("ecuadorian",),
    "eritrea": ("eritrean",),
    "ghana": ("ghanaian",),
    "guatemala": ("guatemalan",),
    "haiti": ("haitian",),
    "honduras": ("honduran",),
    "iceland": ("icelandic",),
    "ivory coast": ("ivorian", "cote divoire", "cote d ivoire"),
    "kosovo": ("kosovar",),
    "kuwait": ("kuwaiti",),
    "kyrgyzstan": ("kyrgyz",),
    "laos": ("laotian",),
    "malaysia": ("malaysian",),
    "mongolia": ("mongolian",),
    "montenegro": ("montenegrin",),
    "mozambique": ("mozambican",),
    "myanmar": ("burmese", "burma"),
    "nepal": ("nepalese", "nepali"),
    "new zealand": ("new zealander",),
    "nicaragua": ("nicaraguan",),
    "niger": ("nigerien",),
    "north macedonia": ("macedonian",),
    "oman": ("omani",),
    "palestine": ("palestinian", "palestinians"),
    "panama": ("panamanian",),
    "peru": ("peruvian",),
    "rwanda": ("rwandan",),
    "senegal": ("senegalese",),
    "singapore": ("singaporean",),
    "slovakia": ("slovak",),
    "slovenia": ("slovenian",),
    "south sudan": ("south sudanese",),
    "sri lanka": ("sri lankan",),
    "tajikistan": ("tajik",),
    "tanzania": ("tanzanian",),
    "tunisia": ("tunisian",),
    "turkmenistan": ("turkmen",),
    "uganda": ("ugandan",),
    "uzbekistan": ("uzbek",),
    "zimbabwe": ("zimbabwean",),
    "afghanistan": ("afghan",),
    "algeria": ("algerian",),
    "argentina": ("argentine", "argentinian"),
    "armenia": ("armenian",),
    "australia": ("australian",),
    "austria": ("austrian",),
    "azerbaijan": ("azerbaijani", "azeri"),
    "belarus": ("belarusian",),
    "belgium": ("belgian",),
    "brazil": ("brazilian", "brasil"),
    "bulgaria": ("bulgarian",),
    "canada": ("canadian",),
    "china": ("chinese", "prc"),
    "colombia": ("colombian",),
    "cuba": ("cuban",),
    "cyprus": ("cypriot",),
    "czechia": ("czech",),
    "denmark": ("danish",),
    "egypt": ("egyptian",),
    "estonia": ("estonian",),
    "ethiopia": ("ethiopian",),
    "finland": ("finnish",),
    "france": ("french",),
    "georgia": ("georgian",),
    "germany": ("german",),
    "greece": ("greek", "hellenic"),
    "hungary": ("hungarian",),
    "india": ("indian",),
    "indonesia": ("indonesian",),
    "iran": ("iranian",),
    "iraq": ("iraqi",),
    "ireland": ("irish",),
    "israel": ("israeli",),
    "italy": ("italian",),
    "japan": ("japanese",),
    "jordan": ("jordanian",),
    "kazakhstan": ("kazakh",),
    "kenya": ("kenyan",),
    "latin america": ("latin american",),  # not "American"
    "latvia": ("latvian",),
    "lebanon": ("lebanese",),
    "libya": ("libyan",),
    "lithuania": ("lithuanian",),
    "mali": ("malian",),
    "mexico": ("mexican",),
    "moldova": ("moldovan",),
    "morocco": ("moroccan",),
    "netherlands": ("dutch", "holland"),
    "nigeria": ("nigerian",),
    "north korea": ("north korean", "dprk", "n korea"),
    "norway": ("norwegian",),
    "pakistan": ("pakistani",),
    "philippines": ("philippine", "filipino"),
    "poland": ("polish",),
    "portugal": ("portuguese",),
    "qatar": ("qatari",),
    "romania": ("romanian",),
    "russia": ("russian",),
    "saudi arabia": ("saudi",),
    "serbia": ("serbian",),
    "somalia": ("somali",),
    "south africa": ("south african",),
    "south korea": ("south korean", "s korea", "rok"),
    "spain": ("spanish",),
    "sudan": ("sudanese",),
    "sweden": ("swedish",),
    "switzerland": ("swiss",),
    "syria": ("syrian",),
    "taiwan": ("taiwanese",),
    "thailand": ("thai",),
    "turkey": ("turkish", "turkiye"),
    "uae": ("emirati", "united arab emirates"),
    "ukraine": ("ukrainian",),
    "uk": ("british", "britain", "great britain", "united kingdom", "u k"),
    "usa": ("american", "united states", "united states of america", "u s", "u s a", "us"),
    "venezuela": ("venezuelan",),
    "vietnam": ("vietnamese",),
    "yemen": ("yemeni",),
}

ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "un": ("united nations", "u n"),
    "eu": ("european union", "e u"),
    "nyc": ("new york city", "new york", "n y c"),
    "unsc": ("un security council", "security council"),
}
# a state's institutions stand for it: "PLA launches drills" is "China launches drills"
AFFILIATES: dict[str, str] = {
    "PLA": "china", "People's Liberation Army": "china", "IDF": "israel", "Mossad": "israel",
    "IRGC": "iran", "Revolutionary Guards": "iran", "Pentagon": "usa", "White House": "usa",
    "State Department": "usa", "Kremlin": "russia", "GRU": "russia", "FSB": "russia",
    "Downing Street": "uk", "Whitehall": "uk", "Elysee": "france", "Bundeswehr": "germany",
    "JCS": "south korea", "KCNA": "north korea", "Xinhua": "china", "Tasnim": "iran",
}  # fmt: skip
# an abbreviation that is also a common word counts only when written in capitals
CAPITALS_ONLY = frozenset({"us", "un", "rok"})

STREET = {"st": "street", "ave": "avenue", "rd": "road", "blvd": "boulevard"}

_EN_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    " fifteen sixteen seventeen eighteen nineteen twenty"
)
_EN = _EN_WORDS.split()
_TENS = {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90, "hundred": 100}  # fmt: skip
_ORDINALS_WORDS = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth"
)
_ORDINALS = _ORDINALS_WORDS.split()
_OTHER = {  # one to ten
    "de": "eins zwei drei vier funf sechs sieben acht neun zehn",
    "fr": "un deux trois quatre cinq six sept huit neuf dix",
    "es": "uno dos tres cuatro cinco seis siete ocho nueve diez",
    "ru": "odin dva tri chetyre pyat shest sem vosem devyat desyat",
    "tr": "bir iki uc dort bes alti yedi sekiz dokuz on",
}
NUMBER_WORDS: dict[str, int] = {w: n for n, w in enumerate(_EN, 1)} | _TENS
NUMBER_WORDS |= {w: n for n, w in enumerate(_ORDINALS, 1) if n > 1}  # "first": no count
# collective and ordinal forms the agencies' leads use: шестеро, четвертый
NUMBER_WORDS |= {"dvoe": 2, "troe": 3, "chetvero": 4, "pyatero": 5, "shestero": 6,
                 "vtoroy": 2, "tretiy": 3, "chetvertyy": 4, "pyatyy": 5}  # fmt: skip
# per language only: "un", "on", "bin", "six" are words elsewhere
LOCAL_NUMBER_WORDS: dict[str, dict[str, int]] = {  # from two: "un", "bir" are articles
    lang: {w: n for n, w in enumerate(words.split(), 1) if n > 1} for lang, words in _OTHER.items()
}

MAGNITUDES: dict[str, float] = {
    "k": 1e3, "thousand": 1e3, "thousands": 1e3, "tys": 1e3, "tysyach": 1e3, "tysyachi": 1e3,
    "tysyacha": 1e3, "tausend": 1e3, "mille": 1e3, "mil": 1e3, "bin": 1e3,
    "m": 1e6, "mn": 1e6, "mln": 1e6, "million": 1e6, "millions": 1e6, "millionen": 1e6,
    "millones": 1e6, "milyon": 1e6, "mlywn": 1e6,
    "b": 1e9, "bn": 1e9, "bln": 1e9, "billion": 1e9, "billions": 1e9, "mlrd": 1e9,
    "milliard": 1e9, "milliards": 1e9, "milliarden": 1e9, "milyar": 1e9, "mlyr": 1e9,
    "trillion": 1e12, "crore": 1e7, "lakh": 1e5,
}  # fmt: skip
CURRENCIES: dict[str, str] = {  # symbols and words before or after an amount
    "$": "usd", "us$": "usd", "dollar": "usd", "dollars": "usd", "dollara": "usd",
    "dollarov": "usd", "dolar": "usd", "dolares": "usd", "dwlr": "usd", "usd": "usd",
    "€": "eur", "euro": "eur", "euros": "eur", "evro": "eur", "eur": "eur",
    "£": "gbp", "pound": "gbp", "pounds": "gbp", "sterling": "gbp", "gbp": "gbp",
    "rs": "inr", "rupees": "inr", "crore": "inr", "lakh": "inr", "inr": "inr",
    "dh": "aed", "dirham": "aed", "dirhams": "aed", "aed": "aed",
    "yuan": "cny", "rmb": "cny", "yen": "jpy", "rubles": "rub", "roubles": "rub", "rubley": "rub",
    "pesos": "mxn", "lira": "try", "liras": "try",
}  # fmt: skip
PERCENT = frozenset({"%", "percent", "per cent", "prozent", "pour cent", "por ciento", "yuzde"})

_MONTH_WORDS = (
    "january february march april may june july august september october november december"
    " jan feb mar apr jun jul aug sep sept oct nov dec"
    " ianvaria fevralia marta aprelia maia iiunia iiulia avgusta sentiabria oktiabria noiabria"
    " dekabria yanvarya fevralya aprelya maya iyunya iyulya sentyabrya oktyabrya noyabrya"
    " dekabrya travnia chervnia"  # Ukrainian May, June
    " januar februar marz mai juni juli oktober dezember"
    " janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre"
    " enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre"
    " ocak subat nisan mayis haziran temmuz agustos eylul ekim kasim aralik"
)
MONTHS = frozenset(_MONTH_WORDS.split())

WEEKDAYS = frozenset(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"])


ACTS = (  # stems (words.stem) of one hostile or diplomatic act: the role veto's predicates
    frozenset(
        {"strik", "struc", "hit", "attac", "fir", "launc", "pound", "bomb", "shell", "targe"}
    ),
    frozenset({"accus", "charg", "blam"}),
    frozenset({"expel", "summo", "close", "order", "sanct"}),
)


MUTUAL = frozenset({"seal", "sign", "agre", "meet", "talk", "discu", "hold", "ink", "clinc",
                    "trade", "excha", "swap", "join", "call", "speak", "host"})  # fmt: skip


ACTING = frozenset().union(*ACTS)


def acts_on(stem: str) -> bool:
    """Whether a word's stem is one of the :data:`ACTS`."""
    return stem in ACTING


def one_act(a: str, b: str) -> bool:
    """Whether two predicates (stems) are one directed act: the same stem, not a mutual
    one (:data:`MUTUAL`: "UK seals a deal with Turkey" is "Turkey seals a deal with the
    UK"), or one group of :data:`ACTS`."""
    if a == b:
        return bool(a) and a not in MUTUAL
    return any(a in group and b in group for group in ACTS)


def _index() -> dict[str, str]:
    """form -> key, over countries (names and demonyms) and abbreviations."""
    out: dict[str, str] = {}
    for key, forms in (COUNTRIES | ABBREVIATIONS).items():
        out[key] = key
        for form in forms:
            out[form] = key
    return out


NAMES: dict[str, str] = _index()
NAME_STARTS: dict[str, int] = {}  # a name's first word -> the most words a name so begun has
for _form in NAMES:
    _first, *_rest = _form.split()
    NAME_STARTS[_first] = max(NAME_STARTS.get(_first, 0), 1 + len(_rest))
COUNTRY_KEYS = frozenset(COUNTRIES)
